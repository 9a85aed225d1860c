"""Caption templates — a PublishingPolicy's, or a post's own in the template caption mode:
``{caption}``, ``{title}``, ``{description}``, ``{hashtags}`` and, when the post names a product,
``{brand}``, ``{composition}``, ``{care}`` (``posts.caption_template`` lists and checks them).

A template line whose placeholders are all empty is left out, so
``"🧵 {composition}"`` disappears for a post without product facts.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from posts.caption_template import FIELDS, PLACEHOLDER, check_template

from .rules import HASHTAG

if TYPE_CHECKING:
    from posts.models import Post
    from products.services import ProductFacts

__all__ = ["FIELDS", "check_template", "render_caption", "split_hashtags"]
HASHTAG_LINE = re.compile(rf"^(?:\s*{HASHTAG.pattern})+\s*$", re.UNICODE)


def split_hashtags(caption: str) -> tuple[str, list[str]]:
    """The caption without its closing lines of only hashtags, and those hashtags in order."""
    lines = caption.rstrip().split("\n")
    tags: list[str] = []
    while lines and HASHTAG_LINE.match(lines[-1]):
        tags[:0] = [m.group(0) for m in HASHTAG.finditer(lines.pop())]
    return "\n".join(lines).rstrip(), tags


def render_caption(
    policy,
    post: Post,
    caption: str,
    *,
    title: str | None = None,
    product: ProductFacts | None = None,
    template: str | None = None,
) -> str:
    """``caption`` (already in the account's language) laid out by ``template`` — the post's own
    in the template caption mode — else by ``policy.caption_template``.

    No template: the caption unchanged. ``title`` is the translated
    title (default: the post's). The policy's required hashtags missing from the caption
    are added to ``{hashtags}``.
    """
    if template is None:
        template = getattr(policy, "caption_template", "") or ""
    if not template.strip():
        return caption
    description, tags = split_hashtags(caption)
    present = {t.lower().lstrip("#") for t in HASHTAG.findall(caption)}
    for required in getattr(policy, "required_hashtags", None) or []:
        if required.lstrip("#").lower() not in present:
            tags.append("#" + required.lstrip("#"))
            present.add(required.lstrip("#").lower())
    values = {
        "caption": caption.strip(),
        "title": (post.title if title is None else title) or "",
        "description": description,
        "hashtags": " ".join(tags),
        "brand": getattr(product, "brand", "") or "",
        "composition": getattr(product, "composition", "") or "",
        "care": getattr(product, "care", "") or "",
    }
    lines = []
    for line in template.split("\n"):
        names = [n for n in PLACEHOLDER.findall(line) if n in values]
        if names and not any(values[n].strip() for n in names):
            continue
        lines.append(PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), line))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
