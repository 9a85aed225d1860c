"""What every translation provider offers: language checks and one batch call."""

from abc import ABC, abstractmethod
from typing import ClassVar


class Provider(ABC):
    name: ClassVar[str]  # stored in TranslationCache.provider
    label: ClassVar[str]  # shown to operators

    @classmethod
    @abstractmethod
    def from_settings(cls) -> "Provider": ...

    @abstractmethod
    def target_code(self, language: str) -> str:
        """The provider's code for translating into ``language``; UnsupportedLanguage names the code."""

    @abstractmethod
    def source_code(self, language: str) -> str:
        """The provider's code for translating from ``language``; UnsupportedLanguage names the code."""

    def placeholder_terms(self, entries: dict[str, str]) -> dict[str, str]:
        """Glossary terms to replace by placeholders (restored as their translation).

        By default every entry: the provider never sees the term, so it cannot
        translate it differently. Providers that can follow a glossary narrow this.
        """
        return dict(entries)

    @abstractmethod
    def translate(self, texts: list[str], *, source: str, target: str, glossary: dict[str, str]) -> list[str]:
        """Translate protected ``texts`` (with placeholder tags) in ONE call; same order and count.

        ``source``/``target`` are this provider's codes. Raises a TranslationError subclass.
        """
