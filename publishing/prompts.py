"""Every AI caption prompt and every platform caption limit, in one place.

Prompts ask for JSON so the answer is parsed, never guessed at. The caption
prompts give the model only the facts we have and forbid inventing others;
``ai_captions.py`` checks the answer anyway.
"""

import json

from translations.languages import language_name

# Longest caption each platform accepts (characters): Telegram's media caption,
# VK's post text, Instagram/TikTok captions, YouTube's description, Pinterest's pin description.
CAPTION_LIMITS = {
    "telegram": 1024,
    "vk": 16000,
    "instagram": 2200,
    "tiktok": 2200,
    "youtube": 5000,
    "pinterest": 500,
    "sandbox": 2200,
}


CAPTION_SYSTEM = (
    "You write social media captions for a brand. The user sends JSON with a brief, a title, product facts, "
    "the language, the maximum length and the hashtag rules. "
    'Answer with JSON {{"caption": "...", "hashtags": ["#tag", ...]}}: the caption text without hashtags, '
    "and the hashtags separately. Write in {language}. "
    "Use ONLY facts from the brief, the title and the product facts: never invent prices, discounts, numbers, "
    "materials, sizes, awards or claims that are not given. "
    "The caption plus a blank line plus the hashtags joined by spaces must fit in max_length characters. "
    "Use between hashtag_min and hashtag_max hashtags and include every required hashtag. "
    "Never use any of the forbidden words.\n\n{platform_rules}"
)

# One template per platform: what its audience and format want.
PLATFORM_PROMPTS = {
    "instagram": "Platform: Instagram feed. Hook in the first line (it is shown before 'more'), short paragraphs, "
    "a few fitting emoji, a call to action at the end.",
    "tiktok": "Platform: TikTok. One or two punchy lines that make people watch to the end; casual tone.",
    "vk": "Platform: VK. A friendly post of a few paragraphs; details are welcome; emoji sparingly.",
    "telegram": "Platform: Telegram channel, media caption. Concise and informative; the key point first.",
    "youtube": "Platform: YouTube video description. First two lines summarise the video (shown in search); "
    "then details as short paragraphs.",
    "pinterest": "Platform: Pinterest pin description. Descriptive and searchable: say what it is and who it is for, "
    "in one or two sentences.",
    "sandbox": "Platform: a test channel. A short neutral caption.",
}

REPAIR = (
    "Your caption breaks these rules:\n{problems}\n"
    'Fix them and answer again with JSON {{"caption": "...", "hashtags": [...]}}; keep everything else.'
)


def caption_messages(
    *,
    platform: str,
    language: str,
    brief: str,
    title: str,
    facts: dict | None,
    max_length: int,
    hashtag_min: int,
    hashtag_max: int,
    required_hashtags: list[str],
    forbidden_words: list[str],
) -> list[dict]:
    system = CAPTION_SYSTEM.format(language=language_name(language), platform_rules=PLATFORM_PROMPTS[platform])
    user = {
        "platform": platform,
        "language": language,
        "brief": brief,
        "title": title,
        "facts": facts or {},
        "max_length": max_length,
        "hashtag_min": hashtag_min,
        "hashtag_max": hashtag_max,
        "required_hashtags": required_hashtags,
        "forbidden_words": forbidden_words,
    }
    return [{"role": "system", "content": system}, {"role": "user", "content": json.dumps(user, ensure_ascii=False)}]


def repair_messages(messages: list[dict], answer: str, problems: list[str]) -> list[dict]:
    return [
        *messages,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": REPAIR.format(problems="\n".join(f"- {p}" for p in problems))},
    ]
