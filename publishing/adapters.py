"""What publishing gives the platform adapters (``platforms``, a library of plain data):
an account as an :class:`AccountSnapshot` whose callbacks store what an adapter
renewed, an execution as a :class:`LookupRequest`, and — once, at start-up — the
sandbox's store and the video-frame extractor (``configure_adapters``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crosspost.models import ActivityLog
from media.ffmpeg import FFmpegFailed, FFmpegMissing, run_ffmpeg
from media.models import MediaAsset, MediaKind
from media.selectors import assets_of
from platforms import registry
from platforms.base import FrameFailed, FrameUnavailable, LookupRequest
from platforms.registry import get_adapter
from posts.account_snapshots import account_snapshot

from .models import Execution, SandboxPost


def platform_media(*, platform: str, media_type: str, assets: Sequence[MediaAsset]) -> tuple[str, list[MediaAsset]]:
    """The media type and media ``platform`` publishes of a post: the post's own, except that a
    carousel with videos (a Telegram channel album of photos and a video, say) goes to a platform
    whose carousels take no videos — YouTube has none, TikTok and Pinterest take photos only — as
    its first video. Anything else goes as it is, and the adapter's ``validate`` says what is wrong."""
    assets = list(assets)
    if media_type != "carousel" or not registry.has_adapter(platform):
        return media_type, assets
    adapter = get_adapter(platform)
    videos = [asset for asset in assets if asset.kind == MediaKind.VIDEO]
    takes_it = adapter.supports("carousel") and (adapter.mixed_carousels or not videos)
    if takes_it or not videos or not adapter.supports("video"):
        return media_type, assets
    return "video", videos[:1]


def lookup_request(execution: Execution) -> LookupRequest:
    """What its platform adapter's ``lookup`` needs to know of ``execution``."""
    adapter = get_adapter(execution.account.platform)
    post = execution.post
    media_type, assets = platform_media(platform=execution.account.platform, media_type=post.media_type, assets=assets_of(post))
    kinds = tuple(asset.kind for asset in assets)
    recorded = frozenset()
    if adapter.lookup_uses_recorded_ids:  # every remote id the account ever got: only for those who read it
        recorded = frozenset(
            Execution.objects.filter(account_id=execution.account_id)
            .exclude(pk=execution.pk)
            .exclude(remote_id="")
            .values_list("remote_id", flat=True)
        )
    kept: dict[str, dict[str, Any]] = {}
    for action in adapter.lookup_records:
        entry = ActivityLog.objects.filter(execution_id=execution.pk, action=action).order_by("-created_at", "-pk").first()
        if entry is not None:
            kept[action] = entry.details or {}
    return LookupRequest(
        account=account_snapshot(execution.account),
        execution_id=execution.pk,
        caption=execution.caption,
        media_type=media_type,
        created_at=execution.created_at,
        started_at=execution.started_at,
        media_kinds=kinds,
        recorded_remote_ids=recorded,
        records=kept,
    )


class SandboxPosts:
    """The sandbox platform's feed, kept as SandboxPost rows."""

    def create(self, *, account_id: Any, marker: str, caption: str, media_type: str, media: list[dict]) -> dict[str, Any]:
        post = SandboxPost.objects.create(
            account_id=account_id, marker=marker, caption=caption, media_type=media_type, media=media
        )
        return {"id": post.pk, "marker": post.marker, "created_at": post.created_at}

    def find(self, *, account_id: Any, marker: str) -> Any | None:
        return SandboxPost.objects.filter(account_id=account_id, marker=marker).values_list("pk", flat=True).first()

    def attempts(self, *, account_id: Any) -> int:
        return sum(Execution.objects.filter(account_id=account_id, attempts__gt=0).values_list("attempts", flat=True))


def extract_first_frame(video: str, target: str) -> None:
    """The video's first frame as a JPEG (ffmpeg), for adapters that upload a thumbnail."""
    try:
        run_ffmpeg(["-i", video, "-frames:v", "1", "-q:v", "3", target], timeout=120)
    except FFmpegMissing as exc:
        raise FrameUnavailable(str(exc)) from None
    except FFmpegFailed as exc:
        raise FrameFailed(str(exc)) from None


def configure_adapters() -> None:
    registry.configure(sandbox_store=SandboxPosts(), extract_frame=extract_first_frame)
