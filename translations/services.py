"""Captions in every target language, from plain text.

A caption in its source language passes through untouched; an operator's
override for a language (the caller passes them in; a post keeps them in
``Post.options["captions"][lang]``) wins over any
translation and is never overwritten by one. Any other language is translated
by the workspace's providers (DeepL first, then OpenAI), one provider call per
language with every text of the post, through the TranslationCache. With no
provider, or when every provider fails, the language is reported as a preflight
problem and nothing is posted in the wrong language.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import F

from accounts.models import Workspace

from .exceptions import TranslationError, TranslationRetryLater
from .languages import base_language, same_language
from .models import Glossary, TranslationCache, TranslationProvider, TranslationSettings, translation_key
from .placeholders import TAG, protect, restore
from .providers import Provider, get_provider, is_configured

logger = logging.getLogger(__name__)

# Part of every cache key: bump when protection or prompts change what a provider returns.
CACHE_VERSION = 1

__all__ = [
    "CaptionResult",
    "ai_completer",
    "ai_configured",
    "captions_for",
    "configured_providers",
    "same_language",
    "translate_texts",
]


@dataclass(frozen=True)
class CaptionResult:
    language: str
    caption: str | None
    problem: str = ""
    provider: str = ""  # "source", "override", or the provider's name
    title: str = ""  # the post's title in this language, for caption templates
    # With no caption: seconds after which asking again may work (a provider's rate limit or
    # outage); None when only an operator can fix the problem (no provider, quota, bad key).
    retry_after: int | None = None


def configured_providers(workspace: Workspace | int | None = None) -> list[str]:
    """Names of translation providers that can be called for ``workspace``, in order of preference."""
    wanted = {
        TranslationProvider.AUTO: ["deepl", "openai"],
        TranslationProvider.DEEPL: ["deepl"],
        TranslationProvider.OPENAI: ["openai"],
        TranslationProvider.NONE: [],
    }[_provider_choice(workspace)]
    return [name for name in wanted if is_configured(name)]


def _provider_choice(workspace: Workspace | int | None) -> str:
    if workspace is None:
        return TranslationProvider.AUTO
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    choice = TranslationSettings.objects.filter(workspace_id=workspace_id).values_list("provider", flat=True).first()
    return choice or TranslationProvider.AUTO


def _override_for(target: str, overrides: dict[str, str]) -> str | None:
    """Exact language first (pt-BR), then an override for the bare language (de serves de-AT)."""
    lowered = {lang.lower(): text for lang, text in overrides.items()}
    if target.lower() in lowered:
        return lowered[target.lower()]
    return lowered.get(base_language(target))


def captions_for(
    *,
    text: str,
    source: str,
    targets: Iterable[str],
    workspace: Workspace | int | None = None,
    overrides: dict[str, str] | None = None,
    title: str = "",
) -> dict[str, CaptionResult]:
    """One caption per target language: at most one call per provider and language, never per account.

    ``overrides`` are the operator's captions by language (a post's: ``posts.options.caption_overrides``);
    ``title`` is translated in the same call, for caption templates. Never raises for a
    provider failure: the language's result carries ``caption=None`` and the problem.
    """
    results: dict[str, CaptionResult] = {}
    pending: list[str] = []
    overrides = overrides or {}
    for target in sorted(set(targets)):
        override = _override_for(target, overrides)
        if override is not None:
            # The operator wrote this language by hand; a title in another language would only clash
            # (an empty title drops the template's {title} line).
            results[target] = CaptionResult(
                target, override, provider="override", title=title if same_language(source, target) else ""
            )
        elif same_language(source, target) or not (text.strip() or title.strip()):
            results[target] = CaptionResult(target, text, provider="source", title=title)
        else:
            pending.append(target)
    if not pending:
        return results

    names = configured_providers(workspace)
    if not names:
        switched_off = _provider_choice(workspace) == TranslationProvider.NONE
        for target in pending:
            results[target] = CaptionResult(target, None, problem=_no_provider_problem(target, source, switched_off))
        return results
    providers: list[Provider] = []
    problems: list[str] = []
    for name in names:
        try:
            providers.append(get_provider(name))
        except (TranslationError, ValueError) as exc:
            problems.append(f"{name}: {exc}")
    glossaries = _glossaries(workspace, source)
    texts = [text, title] if title.strip() else [text]
    for target in pending:
        results[target] = _translate_language(texts, source, target, providers, glossaries.get(base_language(target)), problems)
    return results


def _no_provider_problem(target: str, source: str, switched_off: bool) -> str:
    if switched_off:
        return (
            f"Machine translation is switched off for this workspace, so there is no {target} caption: "
            f"write it by hand (posts/<id>/captions/{target}/) or publish only to {source} accounts."
        )
    return (
        f"No translation provider is configured for {target}: set DEEPL_API_KEY or OPENAI_API_KEY, "
        f"or publish only to {source} accounts."
    )


def _glossaries(workspace: Workspace | int | None, source: str) -> dict[str, Glossary]:
    if workspace is None:
        return {}
    workspace_id = workspace.pk if isinstance(workspace, Workspace) else workspace
    rows = Glossary.objects.filter(workspace_id=workspace_id, source_language=base_language(source))
    return {g.target_language: g for g in rows}


def _translate_language(
    texts: list[str], source: str, target: str, providers: list[Provider], glossary: Glossary | None, setup_problems: list[str]
) -> CaptionResult:
    """The first provider that translates ``texts`` into ``target`` wins; otherwise every provider's reason."""
    failures = list(setup_problems)
    waits: list[int] = []
    for provider in providers:
        try:
            caption, *rest = translate_texts(provider, texts, source=source, target=target, glossary=glossary)
        except TranslationError as exc:
            logger.info("%s could not translate into %s: %s", provider.label, target, exc)
            failures.append(f"{provider.label}: {exc}")
            if isinstance(exc, TranslationRetryLater):
                waits.append(exc.retry_after)
            continue
        return CaptionResult(target, caption, provider=provider.name, title=rest[0] if rest else "")
    # The soonest provider that only asked to wait may translate then.
    return CaptionResult(
        target, None, problem=f"No {target} caption — " + " · ".join(failures), retry_after=min(waits) if waits else None
    )


def _needs_translation(protected_text: str) -> bool:
    """Text with letters outside the tags; a caption of only hashtags and emoji stays as it is."""
    return bool(re.search(r"[^\W\d_]", TAG.sub("", protected_text)))


def translate_texts(
    provider: Provider, texts: list[str], *, source: str, target: str, glossary: Glossary | None = None
) -> list[str]:
    """``texts`` translated by ``provider``: cached ones from TranslationCache, the rest in ONE call.

    Raises a TranslationError subclass (UnsupportedLanguage, PlaceholderLost, …); nothing is
    cached for a failed call.
    """
    src, dst = provider.source_code(source), provider.target_code(target)
    options = {"v": CACHE_VERSION}
    terms: dict[str, str] = {}
    if glossary is not None and glossary.entries:
        options["glossary"] = f"{glossary.pk}:{glossary.version}"
        terms = glossary.entries
    keys = [translation_key(t, src, dst, provider.name, options) for t in texts]
    cached = dict(TranslationCache.objects.filter(key__in=set(keys)).values_list("key", "translated_text"))
    if cached:
        TranslationCache.objects.filter(key__in=list(cached)).update(hits=F("hits") + 1)

    placeholder_terms = provider.placeholder_terms(terms)
    protected = {keys[i]: protect(t, placeholder_terms) for i, t in enumerate(texts) if keys[i] not in cached}
    found = dict(cached)
    to_send = [(key, p) for key, p in protected.items() if _needs_translation(p.text)]
    for key, p in protected.items():
        if not _needs_translation(p.text):
            found[key] = restore(p.text, p)
    if to_send:
        translated = provider.translate([p.text for _, p in to_send], source=src, target=dst, glossary=terms)
        fresh = {key: restore(out, p) for (key, p), out in zip(to_send, translated, strict=True)}
        found.update(fresh)
        originals = dict(zip(keys, texts, strict=True))
        TranslationCache.objects.bulk_create(
            [
                TranslationCache(
                    key=key,
                    source_text=originals[key],
                    source_language=src[:10],
                    target_language=dst[:10],
                    provider=provider.name,
                    options=options,
                    translated_text=value,
                )
                for key, value in fresh.items()
            ],
            ignore_conflicts=True,  # another planner may have stored the same text meanwhile
        )
    return [found[key] for key in keys]


# --- AI completions ------------------------------------------------------------------------------


def ai_configured() -> bool:
    """Whether AI completions (OpenAI) can be called; nothing is called."""
    return is_configured("openai")


def ai_completer() -> Callable[[list[dict]], str]:
    """OpenAI's JSON-mode chat completion for callers that write their own prompts (AI captions):
    chat messages in, the assistant's text out; raises a TranslationError. Only when :func:`ai_configured`."""
    return get_provider("openai").complete
