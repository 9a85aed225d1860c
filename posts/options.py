"""What ``Post.options`` may hold: one JSON object, checked wherever a post is written.

Keys are platform names (each an object of the options that platform
understands, see ``platforms/options.py``) and three of the post's
own: ``captions`` (the operator's caption per language), ``product`` (the
marketplace product the post is about) and ``allow_trim``. Anything else is
refused with the keys named, so a typo is caught when the post is saved, not
when a worker tries to publish it.
"""

from typing import Any

from django.core.exceptions import ValidationError

from platforms import options as platform_options

POST_KEYS = ("allow_trim", "captions", "product")
PRODUCT_KEYS = ("marketplace", "article")


def post_options_problems(value: Any) -> list[str]:
    """Every problem with ``value`` as ``Post.options``, one sentence each."""
    if not isinstance(value, dict):
        return [f"options must be a JSON object keyed by platform, not {_json_type(value)}."]
    found = []
    platforms = platform_options.POST_OPTIONS
    unknown = sorted(set(value) - set(platforms) - set(POST_KEYS))
    if unknown:
        known = ", ".join(sorted({*platforms, *POST_KEYS}))
        found.append(f"options has unknown keys: {', '.join(unknown)} (known: {known}).")
    for platform in platforms:
        if platform in value:
            found += platform_options.problems(platform, value[platform])
    if "allow_trim" in value and not isinstance(value["allow_trim"], bool):
        found.append("options.allow_trim must be a boolean.")
    captions = value.get("captions")
    if "captions" in value and not (
        isinstance(captions, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in captions.items())
    ):
        found.append('options.captions must be an object of captions by language, e.g. {"de": "Hallo"}.')
    product = value.get("product")
    if "product" in value and not (isinstance(product, dict) and set(product) <= set(PRODUCT_KEYS)):
        found.append('options.product must be an object like {"marketplace": "wildberries", "article": 123456}.')
    return found


def validate_post_options(value: Any) -> None:
    """Model-field validator: raises ValidationError naming every problem."""
    problems = post_options_problems(value)
    if problems:
        raise ValidationError(" ".join(problems), code="invalid_options")


def check_stored_options(post) -> None:
    """Refuse to act on a post whose stored options are malformed (saved before they were checked)."""
    problems = post_options_problems(post.options)
    if problems:
        raise ValidationError({"options": f"This post's options are invalid: {' '.join(problems)} Correct them, then try again."})


def caption_overrides(post) -> dict[str, str]:
    """The operator's captions for ``post`` by language, as stored by ``posts.services.post_set_caption``."""
    stored = (post.options or {}).get("captions") or {}
    return {lang: text for lang, text in stored.items() if isinstance(text, str)} if isinstance(stored, dict) else {}


def platform_post_options(post, platform: str) -> dict:
    """The options of ``platform`` from a post whose options passed :func:`check_stored_options`."""
    return dict((post.options or {}).get(platform) or {})


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}.get(
        type(value), type(value).__name__
    )
