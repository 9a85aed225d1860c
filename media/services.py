"""Uploading media: the type is sniffed from the bytes, images are decoded and
probed, identical content is stored once per workspace."""

import hashlib
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from PIL import Image, ImageOps, UnidentifiedImageError

from accounts.models import Workspace

from .models import MediaAsset, MediaKind, MediaStatus

# Pillow raises DecompressionBombError above twice this; we refuse at this size already.
Image.MAX_IMAGE_PIXELS = 60_000_000

IMAGE_MIMES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif", "MPO": "image/jpeg"}


@dataclass(frozen=True)
class Sniffed:
    kind: str
    mime: str


def sniff(head: bytes) -> Sniffed | None:
    """Recognise a media type from its first bytes (never from the file name)."""
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(MediaKind.IMAGE, "image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(MediaKind.IMAGE, "image/png")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed(MediaKind.IMAGE, "image/webp")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed(MediaKind.IMAGE, "image/gif")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return Sniffed(MediaKind.VIDEO, "video/quicktime")
        return Sniffed(MediaKind.VIDEO, "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed(MediaKind.VIDEO, "video/webm")
    return None


def _hash(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    for chunk in iter(lambda: stream.read(1024 * 1024), b""):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def probe_image(stream: BinaryIO) -> dict:
    """Decode the whole image (catches truncation) and return its upright size."""
    try:
        stream.seek(0)
        with Image.open(stream) as img:
            img.load()
            upright = ImageOps.exif_transpose(img)
            return {"width": upright.width, "height": upright.height, "codecs": {"format": img.format, "mode": img.mode}}
    except Image.DecompressionBombError as exc:
        raise ValidationError({"file": f"The image is too large to decode safely ({exc}). Resize it below 60 MP."}) from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValidationError({"file": f"The image cannot be decoded: {exc}. Re-export it as JPEG or PNG."}) from exc
    finally:
        stream.seek(0)


def media_upload(*, workspace: Workspace, file: UploadedFile, actor=None) -> tuple[MediaAsset, bool]:
    """Store an uploaded photo or video. Returns (asset, created); an identical
    file already in the workspace is returned instead of stored twice."""
    max_bytes = settings.MAX_UPLOAD_SIZE_MB * 1024 * 1024
    if file.size == 0:
        raise ValidationError({"file": "The file is empty (0 bytes)."})
    if file.size > max_bytes:
        raise ValidationError(
            {"file": f"The file is {file.size / 1048576:.1f} MB; the limit is {settings.MAX_UPLOAD_SIZE_MB} MB."}
        )
    file.seek(0)
    kind = sniff(file.read(64))
    file.seek(0)
    if kind is None:
        raise ValidationError({"file": "Unsupported file type: upload a JPEG, PNG, WebP or GIF image, or an MP4/MOV/WebM video."})
    sha256 = _hash(file)
    existing = MediaAsset.objects.filter(workspace=workspace, sha256=sha256).first()
    if existing is not None:
        return existing, False

    fields: dict = {"width": None, "height": None, "codecs": {}}
    if kind.kind == MediaKind.IMAGE:
        fields.update(probe_image(file))
        status = MediaStatus.READY
    else:
        # Videos are probed by the media pipeline (ffprobe) before they can be rendered.
        status = MediaStatus.PENDING
    asset = MediaAsset(
        workspace=workspace,
        sha256=sha256,
        mime=kind.mime,
        kind=kind.kind,
        size=file.size,
        original_name=(file.name or "")[:255],
        status=status,
        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
        **fields,
    )
    try:
        with transaction.atomic():
            asset.file.save(file.name or f"upload.{kind.mime.rsplit('/', 1)[-1]}", file, save=False)
            asset.save()
    except IntegrityError:
        # The same file was uploaded concurrently: keep the first copy.
        asset.file.delete(save=False)
        return MediaAsset.objects.get(workspace=workspace, sha256=sha256), False
    return asset, True
