"""Translation providers, by name. Each is imported only when used, so a
missing optional client library only matters to a workspace that chose it."""

from importlib import import_module

from django.conf import settings

from .base import Provider

# name → dotted path of the class; the order is the default order of preference.
PROVIDERS = {
    "deepl": "translations.providers.deepl.DeepLProvider",
    "openai": "translations.providers.openai.OpenAIProvider",
}


def is_configured(name: str) -> bool:
    """Whether the provider's API key is set (nothing is called)."""
    return bool({"deepl": settings.DEEPL_API_KEY, "openai": settings.OPENAI_API_KEY}.get(name))


def get_provider(name: str) -> Provider:
    """A ready provider built from settings; call only for configured ones."""
    module, _, cls = PROVIDERS[name].rpartition(".")
    return getattr(import_module(module), cls).from_settings()


__all__ = ["PROVIDERS", "Provider", "get_provider", "is_configured"]
