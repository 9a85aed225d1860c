"""One error hierarchy for translation and AI-caption providers.

Each message is written for an operator: it says what went wrong and what to do.
The caller turns a :class:`TranslationError` into a per-language problem and
never retries in a loop; ``TranslationRetryLater`` carries the wait.
"""


class TranslationError(Exception):
    """A language could not be translated; ``str(exc)`` is the operator's message."""


class TranslationRetryLater(TranslationError):
    """The provider is rate limiting or unreachable: try again in ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(f"{message} Try again in {retry_after} s.")
        self.retry_after = retry_after


class TranslationQuotaExceeded(TranslationError):
    """The provider's quota or billing limit is used up; retrying cannot help."""


class TranslationConfigError(TranslationError):
    """The provider refuses our configuration (key, host, model): an administrator must act."""


class UnsupportedLanguage(TranslationError):
    """The provider cannot translate into (or from) this language code."""


class PlaceholderLost(TranslationError):
    """A protected hashtag, mention, URL, emoji or line break did not survive translation."""
