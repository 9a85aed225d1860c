"""Platform → adapter class, imported lazily so a platform's client library is
loaded only by processes that publish there; and what the caller provides the
adapters with (``configure``): where the sandbox keeps its posts, how a video frame is taken."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import import_module

from .base import Adapter, SandboxStore
from .names import Platform

ADAPTERS: dict[str, str] = {
    Platform.SANDBOX: "platforms.sandbox.SandboxAdapter",
    Platform.INSTAGRAM: "platforms.instagram.InstagramAdapter",
    Platform.TELEGRAM: "platforms.telegram.TelegramAdapter",
    Platform.VK: "platforms.vk.VkAdapter",
    Platform.TIKTOK: "platforms.tiktok.TikTokAdapter",
    Platform.YOUTUBE: "platforms.youtube.YouTubeAdapter",
    Platform.PINTEREST: "platforms.pinterest.PinterestAdapter",
}


class UnknownPlatform(LookupError):
    pass


class NotConfigured(RuntimeError):
    """An adapter needs something the caller has not provided (``configure``)."""


@dataclass
class Provided:
    sandbox_store: SandboxStore | None = None
    # extract_frame(video_path, jpeg_path): the video's first frame as a JPEG; raises
    # base.FrameUnavailable (no tool on this machine) or base.FrameFailed (no frame).
    extract_frame: Callable[[str, str], None] | None = None


provided = Provided()


def configure(*, sandbox_store: SandboxStore | None = None, extract_frame: Callable[[str, str], None] | None = None) -> None:
    """Give the adapters what they need from their caller (called once at start-up)."""
    if sandbox_store is not None:
        provided.sandbox_store = sandbox_store
    if extract_frame is not None:
        provided.extract_frame = extract_frame


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
