"""Grouping cleaned keyword phrases into ad groups (pure: data in, data out, no models).

Each phrase becomes a vector of two TF-IDF parts over its lemmas: words (unigrams and bigrams of
the word-order-free lemma key) and character n-grams (``char_wb`` 3–5, which also catches what the
lemmatiser splits apart: "цветов" → "цвет" vs "цветы" → "цветок", "айфон" vs "iphone 13"…). Both
parts are L2-normalised, weighted, stacked and normalised again, so one cosine distance weighs
both. Agglomerative clustering with average linkage then merges groups while their mean cosine
distance stays under ``distance_threshold`` — a threshold, not a number of clusters, because how
many ad groups a keyword set has is what we want to find out.

Scaling. Average linkage needs every pairwise distance; for 5,000 phrases that is 25M entries. Two
things keep that in check without changing the result:

- clusters never cross a gap: two groups whose mean distance is under the threshold have at least
  one pair under it, so every cluster lies inside one connected component of the graph "distance <
  threshold". That graph comes from the sparse similarity product, and each component is clustered
  on its own (small components are cheap; singletons need nothing);
- a component's distances are built in float32 (half of float64).

A component larger than ``max_block`` phrases (typically one giant component held together by
common words like "купить" or "цена") is first split into blocks of at most ``max_block`` phrases
by the same agglomerative clustering run on a random sample of it (each phrase then joins its
nearest sample block by centroid) — the two-level approach; exact results for components up to
``max_block``, a close approximation beyond.

Determinism: input order does not matter (it is sorted by −frequency then phrase first), the
linkage is deterministic, ties between equal distances are broken by that order, and the output is
sorted (clusters by total frequency desc then name; phrases in a cluster by −frequency, phrase).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

DISTANCE_THRESHOLD = 0.8
WORD_WEIGHT = 0.6  # the word part's share of the squared norm; chars get the rest
MAX_BLOCK = 2000
SAMPLE_SEED = 16

Item = tuple[str, str, int]  # (phrase, lemmas joined by spaces, frequency)


def cluster_name(items: Sequence[Item], members: Sequence[int]) -> str:
    """The cluster's most frequent phrase (ties: alphabetical)."""
    return min((items[i] for i in members), key=lambda item: (-item[2], item[0]))[0]


def phrase_vectors(texts: Sequence[str]) -> sparse.csr_matrix:
    """Rows of unit length (float32) combining word and character TF-IDF of the lemma texts."""
    words = TfidfVectorizer(token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32)  # noqa: S106
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float32)
    word_part = normalize(words.fit_transform(texts)) * np.float32(np.sqrt(WORD_WEIGHT))
    char_part = normalize(chars.fit_transform(texts)) * np.float32(np.sqrt(1 - WORD_WEIGHT))
    return normalize(sparse.hstack([word_part, char_part], format="csr", dtype=np.float32))


def _agglomerate(vectors: sparse.csr_matrix, threshold: float) -> np.ndarray:
    """Labels of average-linkage clustering of the rows (cosine distance, cut at ``threshold``)."""
    similarity = (vectors @ vectors.T).toarray()
    distances = np.subtract(np.float32(1), similarity, out=similarity)
    np.clip(distances, 0, 2, out=distances)
    np.fill_diagonal(distances, 0)
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, metric="precomputed", linkage="average")
    return model.fit_predict(distances)


def _split_large(vectors: sparse.csr_matrix, threshold: float, max_block: int) -> np.ndarray:
    """Block labels for a component too large to cluster at once: cluster a sample, assign every
    row to the nearest sample cluster's centroid, then cap each block at ``max_block`` rows."""
    count = vectors.shape[0]
    rng = np.random.default_rng(SAMPLE_SEED)
    sample = np.sort(rng.choice(count, size=max_block, replace=False))
    sample_labels = _agglomerate(vectors[sample], threshold)
    groups = sample_labels.max() + 1
    assign = sparse.csr_matrix(
        (np.ones(len(sample), dtype=np.float32), (sample_labels, np.arange(len(sample)))), shape=(groups, len(sample))
    )
    centroids = normalize(assign @ vectors[sample])
    labels = np.asarray((vectors @ centroids.T).toarray().argmax(axis=1)).ravel()
    # A block may still exceed max_block (one huge sample cluster): cut it in order, it is rare and bounded.
    blocks = np.empty(count, dtype=int)
    next_block = 0
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        for start in range(0, len(rows), max_block):
            blocks[rows[start : start + max_block]] = next_block
            next_block += 1
    return blocks


def cluster_phrases(
    items: Sequence[Item],
    distance_threshold: float = DISTANCE_THRESHOLD,
    *,
    max_block: int = MAX_BLOCK,
    progress: Callable[[float], None] | None = None,
) -> list[list[int]]:
    """Clusters of ``items`` as lists of their indexes: clusters by total frequency desc then name,
    indexes within a cluster by (−frequency, phrase). Same items in any order → same clusters.
    ``progress(fraction)`` is called as the phrases get clustered (every 5 % at most)."""
    if not items:
        return []
    order = sorted(range(len(items)), key=lambda i: (-items[i][2], items[i][0], items[i][1]))
    texts = [items[i][1] or items[i][0] for i in order]
    vectors = phrase_vectors(texts)
    labels = np.full(len(order), -1, dtype=int)
    # Components of the "close enough to ever merge" graph; each is clustered separately.
    _, components = connected_components(_close_pairs(vectors, distance_threshold), directed=False)
    next_label, done, reported = 0, 0, 0.0
    for rows in _groups(components):
        if len(rows) > max_block:
            parts = [rows[block] for block in _groups(_split_large(vectors[rows], distance_threshold, max_block))]
        else:
            parts = [rows]
        for part in parts:
            part_labels = _agglomerate(vectors[part], distance_threshold) if len(part) > 1 else np.zeros(1, dtype=int)
            labels[part] = part_labels + next_label
            next_label += part_labels.max() + 1
            done += len(part)
            if progress is not None and done / len(order) - reported >= 0.05:
                reported = done / len(order)
                progress(reported)
    clusters: dict[int, list[int]] = {}
    for position, label in enumerate(labels):
        clusters.setdefault(int(label), []).append(order[position])  # already in (−frequency, phrase) order
    return sorted(
        clusters.values(),
        key=lambda members: (-sum(items[i][2] for i in members), cluster_name(items, members)),
    )


def _close_pairs(vectors: sparse.csr_matrix, threshold: float, rows: int = 500) -> sparse.csr_matrix:
    """The graph of row pairs closer than ``threshold``, built ``rows`` rows at a time: the full
    similarity product is nearly dense (shared character n-grams), its thresholded edges are not."""
    minimum = np.float32(1 - threshold)
    transposed = vectors.T.tocsr()  # once: a CSR × CSC product would convert it for every block
    blocks = []
    for start in range(0, vectors.shape[0], rows):
        block = (vectors[start : start + rows] @ transposed).tocsr()
        block.data = (block.data > minimum).astype(np.int8)
        block.eliminate_zeros()
        blocks.append(block)
    return sparse.vstack(blocks, format="csr")


def _groups(labels: np.ndarray) -> list[np.ndarray]:
    """The row indexes of each label (ascending), groups in the order their first row comes —
    one sort for all, as thousands of single-phrase components are common."""
    by_label = np.argsort(labels, kind="stable")
    groups = np.split(by_label, np.flatnonzero(np.diff(labels[by_label])) + 1)
    return sorted(groups, key=lambda rows: rows[0])
