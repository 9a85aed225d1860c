"""Content rules of a PublishingPolicy, checked per account before anything posts."""

import re

from platforms.base import Problem

HASHTAG = re.compile(r"(?<![\w#])#(\w[\w-]*)", re.UNICODE)


def hashtags(text: str) -> list[str]:
    return [tag.lower() for tag in HASHTAG.findall(text)]


def check_rules(policy, caption: str) -> list[Problem]:
    """Hashtag range, forbidden words and required hashtags of ``policy`` (None: no rules)."""
    if policy is None:
        return []
    problems = []
    tags = hashtags(caption)
    if not policy.hashtag_min <= len(tags) <= policy.hashtag_max:
        problems.append(
            Problem(
                "hashtag_count",
                f"The caption has {len(tags)} hashtag(s); the policy wants {policy.hashtag_min}–{policy.hashtag_max}.",
            )
        )
    lowered = caption.lower()
    found = [word for word in policy.forbidden_words or [] if re.search(rf"(?<!\w){re.escape(word.lower())}(?!\w)", lowered)]
    if found:
        problems.append(Problem("forbidden_words", f"Remove the forbidden word(s): {', '.join(found)}."))
    missing = [tag for tag in policy.required_hashtags or [] if tag.lstrip("#").lower() not in tags]
    if missing:
        problems.append(Problem("required_hashtags", f"Add the required hashtag(s): {', '.join(missing)}."))
    return problems
