"""The translation prompt. It asks for JSON so the answer is parsed, never guessed at."""

import json

from .languages import language_name

TRANSLATION_SYSTEM = (
    "You translate social media captions from {source} to {target}. "
    'The user sends JSON {{"source": ..., "target": ..., "texts": [...], "glossary": {{...}}}}. '
    'Answer with JSON {{"translations": [...]}}: one translation per text, same order and count. '
    'Tags like <x id="3"/> and <br id="4"/> stand for hashtags, mentions, links, emoji, names and line breaks: '
    "copy every tag exactly once, unchanged, where it belongs in the translated sentence; never add, drop or edit a tag. "
    "Translate each glossary term as the glossary says. Keep the tone; add nothing, explain nothing."
)


def translation_messages(texts: list[str], *, source: str, target: str, glossary: dict[str, str]) -> list[dict]:
    system = TRANSLATION_SYSTEM.format(source=language_name(source), target=language_name(target))
    user = {"source": source, "target": target, "texts": texts, "glossary": glossary}
    return [{"role": "system", "content": system}, {"role": "user", "content": json.dumps(user, ensure_ascii=False)}]
