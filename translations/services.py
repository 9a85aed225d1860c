"""Captions in every target language.

A caption in the post's own language passes through untouched. Any other
language needs a configured provider (DeepL, OpenAI — see the translations
providers); with none, the language is reported as a preflight problem and
nothing is posted in the wrong language.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class CaptionResult:
    language: str
    caption: str | None
    problem: str = ""
    provider: str = ""


def same_language(a: str, b: str) -> bool:
    """en, en-US and EN-GB are one language for a caption; pt-BR and pt-PT too."""
    return a.split("-")[0].lower() == b.split("-")[0].lower()


def configured_providers() -> list[str]:
    """Names of translation providers that can be called, in order of preference."""
    return []


def captions_for(*, text: str, source: str, targets: set[str]) -> dict[str, CaptionResult]:
    """One caption per target language (one provider call per language, never per account)."""
    results: dict[str, CaptionResult] = {}
    providers = configured_providers()
    for target in sorted(targets):
        if same_language(source, target):
            results[target] = CaptionResult(target, text, provider="source")
        elif not providers:
            results[target] = CaptionResult(
                target,
                None,
                problem=(
                    f"No translation provider is configured for {target}: set DEEPL_API_KEY or OPENAI_API_KEY, "
                    f"or publish only to {source} accounts."
                ),
            )
    return results
