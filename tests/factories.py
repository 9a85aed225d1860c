"""factory_boy factories for every domain model; tests build data only through these."""

import functools
import hashlib
import io
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import factory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from accounts.models import AccountEvent, AccountGroup, Membership, Platform, Proxy, Role, SocialAccount, Workspace
from crosspost.models import ActivityLog
from media.models import MediaAsset, MediaKind, MediaStatus, Rendition
from media.probe import probe_video
from media.profiles import PROFILES
from media.render import Job, render_video
from posts.models import Post, PostMedia
from publishing.models import Execution, PublishingPolicy
from translations.models import TranslationCache, translation_key

from .support.media import mp4_bytes


def png_bytes(width: int = 64, height: int = 48, color=(200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"operator{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pw-Secret-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"ws-{n}")
    timezone = "Europe/Berlin"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    workspace = factory.SubFactory(WorkspaceFactory)
    role = Role.ADMIN


class AccountGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountGroup

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Group {n}")


class ProxyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Proxy

    workspace = factory.SubFactory(WorkspaceFactory)
    scheme = "http"
    host = factory.Sequence(lambda n: f"10.0.{n // 250}.{n % 250 + 1}")
    port = 8080
    url = factory.LazyAttribute(lambda p: f"{p.scheme}://proxyuser:proxy-pass-{p.host}@{p.host}:{p.port}")
    has_credentials = True
    status = "active"
    country = "DE"


class SocialAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SocialAccount

    workspace = factory.SubFactory(WorkspaceFactory)
    platform = Platform.SANDBOX
    handle = factory.Sequence(lambda n: f"account_{n}")
    language = "en"
    credentials = factory.LazyFunction(lambda: {"token": "sandbox-secret-token"})
    device_id = factory.Sequence(lambda n: f"android-{n:016x}")
    user_agent = "Instagram 269.0.0.18.75 Android"
    warmup_started_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=60))


class AccountEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountEvent

    account = factory.SubFactory(SocialAccountFactory)
    workspace = factory.SelfAttribute("account.workspace")
    from_status = "active"
    to_status = "cooldown"
    reason = "rate limited"


class MediaAssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MediaAsset

    class Params:
        content = factory.Sequence(lambda n: png_bytes(color=(n % 256, (n // 256) % 256, 99)))

    workspace = factory.SubFactory(WorkspaceFactory)
    sha256 = factory.LazyAttribute(lambda a: hashlib.sha256(a.content).hexdigest())
    file = factory.LazyAttribute(lambda a: ContentFile(a.content, name="image.png"))
    original_name = "image.png"
    mime = "image/png"
    kind = MediaKind.IMAGE
    size = factory.LazyAttribute(lambda a: len(a.content))
    width = 64
    height = 48
    status = MediaStatus.READY


class PostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Post

    workspace = factory.SubFactory(WorkspaceFactory)
    title = factory.Sequence(lambda n: f"Post {n}")
    caption = "Hello from Crosspost #launch"
    language = "en"


class PostMediaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PostMedia

    post = factory.SubFactory(PostFactory)
    asset = factory.SubFactory(MediaAssetFactory, workspace=factory.SelfAttribute("..post.workspace"))
    position = 0


class ExecutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Execution

    post = factory.SubFactory(PostFactory)
    workspace = factory.SelfAttribute("post.workspace")
    account = factory.SubFactory(SocialAccountFactory, workspace=factory.SelfAttribute("..post.workspace"))
    language = "en"
    caption = factory.SelfAttribute("post.caption")
    scheduled_for = factory.LazyFunction(timezone.now)


class PublishingPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PublishingPolicy

    class Params:
        # Pacing that never makes a test wait: publish every account at once.
        fast = factory.Trait(
            min_interval_s=1, stagger_min_s=0, stagger_max_s=0, warmup_curve=[100], warmup_ramp_days=0, daily_limit=100
        )

    workspace = factory.SubFactory(WorkspaceFactory)
    platform = Platform.SANDBOX


class ActivityLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActivityLog

    workspace = factory.SubFactory(WorkspaceFactory)
    action = "account.check"
    status = "info"
    message = "checked"


class RenditionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rendition

    asset = factory.SubFactory(MediaAssetFactory)
    profile = factory.Sequence(lambda n: f"profile_{n}")
    aspect = "1:1"
    width = 1080
    height = 1080
    size = 2048
    status = MediaStatus.READY


class TranslationCacheFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TranslationCache

    source_text = factory.Sequence(lambda n: f"Hello number {n}")
    source_language = "en"
    target_language = "de"
    provider = "deepl"
    translated_text = factory.LazyAttribute(lambda t: f"Hallo: {t.source_text}")
    key = factory.LazyAttribute(lambda t: translation_key(t.source_text, t.source_language, t.target_language, t.provider))


@functools.cache
def _clip_codecs() -> dict:
    """What media.probe reports for the test clip (fps, audio…), as a probed upload would store it."""
    with tempfile.NamedTemporaryFile(suffix=".mp4") as clip:
        clip.write(mp4_bytes(0))
        clip.flush()
        return probe_video(clip.name).codecs


@dataclass(frozen=True)
class RenderedClip:
    file: bytes
    cover: bytes | None
    width: int
    height: int
    size: int
    duration: float


@functools.cache
def _rendered_clip(profile: str, preset: str) -> RenderedClip:
    """The test clip rendered for ``profile`` by the real pipeline, once per process: every
    VideoAssetFactory clip has the same picture (only a trailing ``free`` box differs)."""
    with tempfile.TemporaryDirectory(prefix="crosspost-test-render-") as workdir:
        source = Path(workdir) / "clip.mp4"
        source.write_bytes(mp4_bytes(0))
        output = render_video(source, probe_video(str(source)), [Job(PROFILES[profile])], Path(workdir))[profile]
        assert output.ok and output.path, output.error
        cover = output.cover.read_bytes() if output.cover else None
        return RenderedClip(output.path.read_bytes(), cover, output.width, output.height, output.size, output.duration)


class VideoAssetFactory(MediaAssetFactory):
    """A real, renderable video: the 4 s 180×320 H.264 + AAC test clip, unique per asset.

    ``renditions=["youtube_video", …]`` gives it those renditions ready-made (rendered once per
    process, see _rendered_clip), so tests whose subject is not the rendering skip a 1–1.5 s render.
    """

    class Meta:
        skip_postgeneration_save = True

    class Params:
        content = factory.Sequence(mp4_bytes)

    file = factory.LazyAttribute(lambda a: ContentFile(a.content, name="clip.mp4"))
    original_name = "clip.mp4"
    mime = "video/mp4"
    kind = MediaKind.VIDEO
    width = 180
    height = 320
    duration = 4.0
    codecs = factory.LazyFunction(lambda: dict(_clip_codecs()))

    @factory.post_generation
    def renditions(obj, create, extracted, **kwargs):
        for profile in extracted or ():
            clip = _rendered_clip(profile, settings.MEDIA_X264_PRESET)
            rendition = Rendition(
                asset=obj,
                profile=profile,
                aspect=PROFILES[profile].aspect,
                status=MediaStatus.READY,
                width=clip.width,
                height=clip.height,
                size=clip.size,
                duration=clip.duration,
            )
            rendition.file.save(f"{profile}.mp4", ContentFile(clip.file), save=False)
            if clip.cover is not None:
                rendition.cover.save(f"{profile}.jpg", ContentFile(clip.cover), save=False)
            rendition.save()


class GlossaryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "translations.Glossary"

    workspace = factory.SubFactory(WorkspaceFactory)
    source_language = "en"
    target_language = "de"
    entries = factory.LazyFunction(lambda: {"Crosspost": "Crosspost"})


class TranslationSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "translations.TranslationSettings"

    workspace = factory.SubFactory(WorkspaceFactory)
    provider = "auto"


def jpeg_bytes(width: int = 64, height: int = 64, color=(40, 120, 200), comment: str = "") -> bytes:
    buf = io.BytesIO()
    # Nearby colours can compress to the same bytes: the comment keeps every file distinct.
    Image.new("RGB", (width, height), color).save(buf, format="JPEG", comment=comment)
    return buf.getvalue()


class JpegAssetFactory(MediaAssetFactory):
    """A JPEG image asset (the Instagram Graph API takes JPEG only)."""

    class Params:
        content = factory.Sequence(lambda n: jpeg_bytes(color=(n % 256, 99, (n // 256) % 256), comment=f"asset {n}"))

    file = factory.LazyAttribute(lambda a: ContentFile(a.content, name="photo.jpg"))
    original_name = "photo.jpg"
    mime = "image/jpeg"
    width = 64
    height = 64
