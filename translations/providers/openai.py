"""OpenAI chat completions through the official ``openai`` client: translations
(JSON in, JSON out, one call per language) and the calls behind AI captions."""

import json
import logging
from contextlib import contextmanager

import openai
from django.conf import settings

from .. import prompts
from ..exceptions import TranslationConfigError, TranslationError, TranslationQuotaExceeded, TranslationRetryLater
from ..languages import check_code, language_name
from .base import Provider

logger = logging.getLogger(__name__)


def _retry_after(exc: openai.APIStatusError) -> int:
    headers = exc.response.headers if exc.response is not None else {}
    try:
        if headers.get("retry-after-ms"):
            return max(1, round(float(headers["retry-after-ms"]) / 1000))
        if headers.get("retry-after"):
            return max(1, round(float(headers["retry-after"])))
    except ValueError:
        pass
    return settings.TRANSLATION_RETRY_AFTER_SECONDS


def _retry_after_of(exc: Exception) -> int:
    return _retry_after(exc) if isinstance(exc, openai.APIStatusError) else settings.TRANSLATION_RETRY_AFTER_SECONDS


@contextmanager
def openai_errors():
    """OpenAI's exceptions as translation errors an operator can act on."""
    try:
        yield
    except openai.RateLimitError as exc:
        if exc.code == "insufficient_quota":
            raise TranslationQuotaExceeded(
                "OpenAI says the account's quota is used up (insufficient_quota): check the plan and billing "
                "details of OPENAI_API_KEY. Nothing was retried."
            ) from exc
        raise TranslationRetryLater("OpenAI is rate limiting requests (HTTP 429).", retry_after=_retry_after(exc)) from exc
    except openai.AuthenticationError as exc:
        raise TranslationConfigError(
            f"OpenAI refused the API key (HTTP 401): check OPENAI_API_KEY. OpenAI said: {exc.message}"
        ) from exc
    except openai.PermissionDeniedError as exc:
        raise TranslationConfigError(f"OpenAI denied access (HTTP 403): {exc.message}") from exc
    except openai.NotFoundError as exc:
        raise TranslationConfigError(
            f"OpenAI does not offer the model {settings.OPENAI_MODEL!r} to this key (HTTP 404): set OPENAI_MODEL."
        ) from exc
    except (openai.APIConnectionError, openai.InternalServerError) as exc:
        raise TranslationRetryLater(
            f"OpenAI cannot be reached or is failing ({type(exc).__name__}).", retry_after=_retry_after_of(exc)
        ) from exc
    except openai.APIStatusError as exc:
        raise TranslationError(f"OpenAI rejected the request (HTTP {exc.status_code}): {exc.message}") from exc


class OpenAIProvider(Provider):
    name = "openai"
    label = "OpenAI"

    def __init__(self, api_key: str, base_url: str, model: str) -> None:
        self.model = model
        self.client = openai.OpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=settings.TRANSLATION_MAX_RETRIES,
            timeout=settings.TRANSLATION_TIMEOUT_SECONDS,
        )

    @classmethod
    def from_settings(cls) -> "OpenAIProvider":
        return cls(settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL, settings.OPENAI_MODEL)

    def target_code(self, language: str) -> str:
        code = check_code(language)
        language_name(code)  # a language the prompt can name, or UnsupportedLanguage
        return code

    source_code = target_code

    def placeholder_terms(self, entries: dict[str, str]) -> dict[str, str]:
        # Brand names stay placeholders; other terms go in the prompt so the model can inflect them.
        return {term: translation for term, translation in entries.items() if term == translation}

    def complete(self, messages: list[dict]) -> str:
        """One chat completion in JSON mode; the assistant's text."""
        with openai_errors():
            response = self.client.chat.completions.create(
                model=self.model, messages=messages, response_format={"type": "json_object"}, temperature=0
            )
        choice = response.choices[0]
        if choice.finish_reason == "length":
            raise TranslationError("OpenAI's answer was cut off (finish_reason=length); shorten the text.")
        if choice.finish_reason == "content_filter":
            raise TranslationError("OpenAI's content filter refused the text.")
        return choice.message.content or ""

    def translate(self, texts: list[str], *, source: str, target: str, glossary: dict[str, str]) -> list[str]:
        prompt_glossary = {term: translation for term, translation in glossary.items() if term != translation}
        content = self.complete(prompts.translation_messages(texts, source=source, target=target, glossary=prompt_glossary))
        try:
            translations = json.loads(content)["translations"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TranslationError(f"OpenAI answered in an unexpected shape ({type(exc).__name__}).") from exc
        if (
            not isinstance(translations, list)
            or len(translations) != len(texts)
            or not all(isinstance(t, str) for t in translations)
        ):
            count = len(translations) if isinstance(translations, list) else "no"
            raise TranslationError(f"OpenAI returned {count} translation(s) for {len(texts)} text(s).")
        return translations
