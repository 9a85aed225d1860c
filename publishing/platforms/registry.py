"""Platform → adapter class, imported lazily so a platform's client library is
loaded only by processes that publish there."""

from functools import cache
from importlib import import_module

from accounts.models import Platform

from .base import Adapter

ADAPTERS: dict[str, str] = {
    Platform.SANDBOX: "publishing.platforms.sandbox.SandboxAdapter",
    Platform.INSTAGRAM: "publishing.platforms.instagram.InstagramAdapter",
    Platform.TELEGRAM: "publishing.platforms.telegram.TelegramAdapter",
    Platform.VK: "publishing.platforms.vk.VkAdapter",
    Platform.TIKTOK: "publishing.platforms.tiktok.TikTokAdapter",
    Platform.YOUTUBE: "publishing.platforms.youtube.YouTubeAdapter",
    Platform.PINTEREST: "publishing.platforms.pinterest.PinterestAdapter",
}


class UnknownPlatform(LookupError):
    pass


@cache
def get_adapter(platform: str) -> Adapter:
    try:
        dotted = ADAPTERS[platform]
    except KeyError:
        raise UnknownPlatform(
            f"No adapter for {platform!r} yet: publishing to it arrives with its platform integration."
        ) from None
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)()


def has_adapter(platform: str) -> bool:
    return platform in ADAPTERS
