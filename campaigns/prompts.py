"""The prompts that write Yandex Direct ads, in one place.

The model gets the product description, the site's host and the cluster's top search phrases as
JSON and answers JSON, so the answer is parsed, never guessed at; ``stages/generate.py`` checks
every ad against ``direct.LIMITS`` anyway and sends the problems back for a repair.
"""

from __future__ import annotations

import json

from .direct import LIMITS

ADS_SYSTEM = (
    "You write Yandex Direct search text ads. The user sends JSON with the product description, the site, "
    "the search phrases of one ad group (most frequent first) and how many ads to write. "
    'Answer with JSON {"ads": [{"title1": "...", "title2": "...", "text": "...", "display_path": "..."}, ...]} '
    "with exactly that many ads. Write in the language of the search phrases. "
    "Title 1 should contain the main search phrase; the text names the benefit and a call to action. "
    "Use ONLY facts from the product description: never invent prices, discounts, numbers or guarantees. "
    "Limits (characters, spaces included): {limits}. "
    "display_path is shown after the domain: letters, digits and - only (no spaces), e.g. the main phrase "
    "with hyphens."
)

REPAIR = (
    "These ads break Yandex Direct's limits:\n{problems}\n"
    "Write {count} ad(s) again, shorter where needed, and answer with the same JSON shape "
    '{{"ads": [...]}}.'
)


def limits_text() -> str:
    parts = []
    for field, limit in LIMITS.items():
        part = f"{field} ≤ {limit.length}"
        if limit.word:
            part += f" (words ≤ {limit.word})"
        parts.append(part)
    return "; ".join(parts)


def ad_messages(*, product: str, site: str, phrases: list[str], count: int) -> list[dict]:
    payload = {"product": product, "site": site, "phrases": phrases, "ads": count}
    return [
        {"role": "system", "content": ADS_SYSTEM.replace("{limits}", limits_text())},
        {"role": "user", "content": json.dumps(payload, ensure_ascii=False)},
    ]


def repair_messages(messages: list[dict], answer: str, problems: list[str], count: int) -> list[dict]:
    return [
        *messages,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": REPAIR.format(problems="\n".join(f"- {p}" for p in problems), count=count)},
    ]
