"""Uploaded media and the per-platform renditions made from them."""

from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Workspace
from crosspost.models import choices_check


class MediaKind(models.TextChoices):
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video")


class MediaStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


# The extension a stored file gets for each media type Crosspost accepts or renders. Web servers
# and S3 derive the type they serve from the extension, so it comes from the type sniffed from the
# bytes (or rendered), never from the uploader's file name: a picture named x.html stays a .jpg.
MEDIA_EXTENSIONS: dict[str, str] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
}
MEDIA_TYPES: dict[str, str] = {extension: mime for mime, extension in MEDIA_EXTENSIONS.items()}


def asset_upload_to(instance: "MediaAsset", filename: str) -> str:
    extension = MEDIA_EXTENSIONS.get(instance.mime, "")
    return f"assets/{instance.workspace_id}/{instance.sha256[:2]}/{instance.sha256}{extension}"


def rendition_upload_to(instance: "Rendition", filename: str) -> str:
    """``filename`` is the renderer's, named after its output type; any other extension is dropped."""
    suffix = PurePosixPath(filename).suffix.lower()
    extension = suffix if suffix in MEDIA_TYPES else ""
    return f"renditions/{instance.asset.workspace_id}/{instance.asset_id}/{instance.profile}{extension}"


class MediaAsset(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="media_assets", verbose_name=_("workspace"))
    file = models.FileField(upload_to=asset_upload_to, max_length=300, verbose_name=_("file"))
    original_name = models.CharField(max_length=255, blank=True, verbose_name=_("original name"))
    sha256 = models.CharField(max_length=64, verbose_name=_("SHA-256"))
    mime = models.CharField(max_length=100, verbose_name=_("MIME type"))
    kind = models.CharField(max_length=8, choices=MediaKind.choices, verbose_name=_("kind"))
    size = models.PositiveBigIntegerField(verbose_name=_("size"))
    width = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("width"))
    height = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("height"))
    duration = models.FloatField(null=True, blank=True, help_text=_("Seconds (video)."), verbose_name=_("duration"))
    codecs = models.JSONField(default=dict, blank=True, verbose_name=_("codecs"))
    status = models.CharField(max_length=8, choices=MediaStatus.choices, default=MediaStatus.PENDING, verbose_name=_("status"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("uploaded by")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("media asset")
        verbose_name_plural = _("media assets")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "sha256"], name="asset_unique_content_per_workspace"),
            choices_check("kind", MediaKind, "asset_valid_kind"),
            choices_check("status", MediaStatus, "asset_valid_status"),
        ]

    def __str__(self) -> str:
        return self.original_name or self.sha256[:12]


class Aspect(models.TextChoices):
    PORTRAIT_9_16 = "9:16", "9:16 (1080×1920)"
    PORTRAIT_4_5 = "4:5", "4:5 (1080×1350)"
    SQUARE = "1:1", "1:1 (1080×1080)"
    LANDSCAPE_16_9 = "16:9", "16:9 (1920×1080)"


class Rendition(models.Model):
    asset = models.ForeignKey(MediaAsset, on_delete=models.CASCADE, related_name="renditions", verbose_name=_("asset"))
    profile = models.CharField(
        max_length=40, help_text=_("Platform encoding profile, e.g. instagram_reel."), verbose_name=_("profile")
    )
    aspect = models.CharField(max_length=5, choices=Aspect.choices, verbose_name=_("aspect"))
    file = models.FileField(upload_to=rendition_upload_to, max_length=300, blank=True, verbose_name=_("file"))
    width = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("width"))
    height = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("height"))
    size = models.PositiveBigIntegerField(null=True, blank=True, verbose_name=_("size"))
    duration = models.FloatField(
        null=True, blank=True, help_text=_("Seconds (video), after any trim."), verbose_name=_("duration")
    )
    cover = models.FileField(
        upload_to=rendition_upload_to,
        max_length=300,
        blank=True,
        help_text=_("Cover frame (JPEG) of a video rendition."),
        verbose_name=_("cover"),
    )
    allow_trim = models.BooleanField(
        default=False,
        help_text=_("A video longer than the profile allows is trimmed instead of failing."),
        verbose_name=_("allow trimming"),
    )
    status = models.CharField(max_length=8, choices=MediaStatus.choices, default=MediaStatus.PENDING, verbose_name=_("status"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    # Set while a worker renders it; a lapsed lease lets another worker take over.
    lease_expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("lease expires"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("rendition")
        verbose_name_plural = _("renditions")
        constraints = [
            models.UniqueConstraint(fields=["asset", "profile"], name="rendition_unique_profile"),
            choices_check("aspect", Aspect, "rendition_valid_aspect"),
            choices_check("status", MediaStatus, "rendition_valid_status"),
        ]

    def __str__(self) -> str:
        return f"{self.asset} → {self.profile}"
