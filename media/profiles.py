"""Rendition profiles: every size, codec and limit a platform's media must meet,
in one place. Values are from shared/PLATFORM_APIS.md (section per platform);
where a platform documents no limit the field is None.

A profile is one output file: a picture size (one of the four aspects), an
encoding and the platform's caps. ``PLATFORM_PROFILES`` says which profiles a
(platform, post media type) needs; a carousel lists an image and a video
profile and each asset gets the one of its kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import Platform

from .models import Aspect, MediaKind

MB = 1024 * 1024
GB = 1024 * MB

SIZES: dict[str, tuple[int, int]] = {
    Aspect.PORTRAIT_9_16: (1080, 1920),
    Aspect.PORTRAIT_4_5: (1080, 1350),
    Aspect.SQUARE: (1080, 1080),
    Aspect.LANDSCAPE_16_9: (1920, 1080),
}


@dataclass(frozen=True)
class Profile:
    name: str
    kind: str  # MediaKind
    aspect: str  # Aspect
    max_bytes: int | None = None
    min_duration: float | None = None  # seconds (video)
    max_duration: float | None = None  # seconds; longer sources are trimmed only when the post allows it
    max_video_kbps: int = 10_000  # VBV cap of the H.264 stream (a platform's cap, or ours for 1080p)
    audio_kbps: int = 128
    min_fps: float | None = None  # below: frames are repeated up to 30 fps
    max_fps: float | None = None  # above: frames are dropped down to this
    jpeg_quality: int = 90

    @property
    def size(self) -> tuple[int, int]:
        return SIZES[self.aspect]

    @property
    def mime(self) -> str:
        return "video/mp4" if self.kind == MediaKind.VIDEO else "image/jpeg"

    @property
    def extension(self) -> str:
        return ".mp4" if self.kind == MediaKind.VIDEO else ".jpg"


def _video(name: str, aspect: str, **limits) -> Profile:
    return Profile(name=name, kind=MediaKind.VIDEO.value, aspect=str(aspect), **limits)


def _image(name: str, aspect: str, **limits) -> Profile:
    return Profile(name=name, kind=MediaKind.IMAGE.value, aspect=str(aspect), **limits)


V916, V45, V11, V169 = Aspect.PORTRAIT_9_16, Aspect.PORTRAIT_4_5, Aspect.SQUARE, Aspect.LANDSCAPE_16_9
# Instagram Reels: H.264, 23–60 fps, VBR ≤ 25 Mbps, AAC 128 kbps ≤ 48 kHz, 3 s – 15 min, ≤ 300 MB (§3 limits).
_INSTAGRAM_VIDEO = {"min_fps": 23, "max_fps": 60, "max_video_kbps": 25_000, "min_duration": 3}

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        # Generic renditions (the sandbox, previews): no platform limit.
        _video("video_9x16", V916),
        _video("video_4x5", V45),
        _video("video_1x1", V11),
        _video("video_16x9", V169),
        _image("image_9x16", V916),
        _image("image_4x5", V45),
        _image("image_1x1", V11),
        _image("image_16x9", V169),
        # Instagram: JPEG only, ≤ 8 MB, aspect 4:5 … 1.91:1; stories 9:16.
        _image("instagram_feed_image", V45, max_bytes=8 * MB),
        _image("instagram_story_image", V916, max_bytes=8 * MB),
        _video("instagram_reel", V916, max_bytes=300 * MB, max_duration=15 * 60, **_INSTAGRAM_VIDEO),
        _video("instagram_feed_video", V45, max_bytes=300 * MB, max_duration=15 * 60, **_INSTAGRAM_VIDEO),
        _video("instagram_story_video", V916, max_bytes=100 * MB, max_duration=60, **_INSTAGRAM_VIDEO),
        # Telegram Bot API: photos ≤ 10 MB, other files ≤ 50 MB by multipart upload.
        _image("telegram_photo", V45, max_bytes=10 * MB),
        _video("telegram_video", V169, max_bytes=50 * MB),
        _video("telegram_video_vertical", V916, max_bytes=50 * MB),
        # VK: wall photos ≤ 50 MB (JPG/PNG/GIF); video limits are not documented.
        _image("vk_photo", V45, max_bytes=50 * MB),
        _video("vk_video", V169),
        _video("vk_clip", V916),
        # TikTok: H.264, 23–60 fps, ≤ 4 GB, API max 10 min; photos JPEG ≤ 20 MB, max 1080p.
        _image("tiktok_photo", V916, max_bytes=20 * MB),
        _video("tiktok_video", V916, max_bytes=4 * GB, max_duration=10 * 60, min_fps=23, max_fps=60),
        # YouTube: ≤ 256 GB / 12 h; vertical ≤ 3 min becomes a Short, 16:9 stays a regular video.
        _video("youtube_video", V169, max_bytes=256 * GB, max_duration=12 * 3600),
        _video("youtube_short", V916, max_bytes=256 * GB, max_duration=3 * 60),
        # Pinterest (third-party figures): images ≤ 20 MB; video 4 s – 15 min, ≤ 2 GB, aspect 1.91:1 … 1:2.
        _image("pinterest_image", V45, max_bytes=20 * MB),
        _video("pinterest_video", V916, max_bytes=2 * GB, min_duration=4, max_duration=15 * 60),
    )
}

# (platform, Post.media_type) → the profiles its media is rendered to. Missing
# pairs (text posts, media types a platform does not publish) need none.
PLATFORM_PROFILES: dict[tuple[str, str], tuple[str, ...]] = {
    (Platform.SANDBOX, "photo"): ("image_4x5",),
    (Platform.SANDBOX, "video"): ("video_16x9",),
    (Platform.SANDBOX, "reel"): ("video_9x16",),
    (Platform.SANDBOX, "story"): ("image_9x16", "video_9x16"),
    (Platform.SANDBOX, "carousel"): ("image_1x1", "video_1x1"),
    (Platform.INSTAGRAM, "photo"): ("instagram_feed_image",),
    (Platform.INSTAGRAM, "video"): ("instagram_reel",),
    (Platform.INSTAGRAM, "reel"): ("instagram_reel",),
    (Platform.INSTAGRAM, "story"): ("instagram_story_image", "instagram_story_video"),
    (Platform.INSTAGRAM, "carousel"): ("instagram_feed_image", "instagram_feed_video"),
    (Platform.TELEGRAM, "photo"): ("telegram_photo",),
    (Platform.TELEGRAM, "video"): ("telegram_video",),
    (Platform.TELEGRAM, "reel"): ("telegram_video_vertical",),
    (Platform.TELEGRAM, "story"): ("telegram_photo", "telegram_video_vertical"),
    (Platform.TELEGRAM, "carousel"): ("telegram_photo", "telegram_video"),
    (Platform.VK, "photo"): ("vk_photo",),
    (Platform.VK, "video"): ("vk_video",),
    (Platform.VK, "reel"): ("vk_clip",),
    (Platform.VK, "story"): ("vk_photo", "vk_clip"),
    (Platform.VK, "carousel"): ("vk_photo", "vk_video"),
    (Platform.TIKTOK, "photo"): ("tiktok_photo",),
    (Platform.TIKTOK, "video"): ("tiktok_video",),
    (Platform.TIKTOK, "reel"): ("tiktok_video",),
    (Platform.TIKTOK, "carousel"): ("tiktok_photo",),
    (Platform.YOUTUBE, "video"): ("youtube_video",),
    (Platform.YOUTUBE, "reel"): ("youtube_short",),
    (Platform.YOUTUBE, "story"): ("youtube_short",),
    (Platform.PINTEREST, "photo"): ("pinterest_image",),
    (Platform.PINTEREST, "video"): ("pinterest_video",),
    (Platform.PINTEREST, "reel"): ("pinterest_video",),
    (Platform.PINTEREST, "carousel"): ("pinterest_image",),
}
