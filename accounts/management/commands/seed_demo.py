import io
import os
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from accounts.models import AccountGroup, Membership, Platform, Proxy, ProxyStatus, Role, SocialAccount, Workspace
from accounts.services import account_create, proxy_create, proxy_fields_from_url, secret_to_credentials
from media.services import media_upload
from posts.models import MediaType, Post
from posts.services import post_create, post_set_caption

DEFAULT_PASSWORD = "crosspost-demo"  # noqa: S105 - the documented demo login (README, scripts/run.sh)
USERNAME = "demo"
WORKSPACE = {"slug": "demo", "name": "Demo", "timezone": "Europe/Berlin"}
GROUPS = [
    ("Tech", "Gadgets, software and start-ups."),
    ("Finance", "Markets, personal finance and crypto."),
    ("News", "Daily headlines."),
]
LANGUAGES = ["en", "de", "es"]
ACCOUNT_COUNT = 20
# The sandbox publishes without a proxy, so the demo accounts have none. One example proxy shows
# the proxy pages; nothing listens at its address (.invalid never resolves), so it is seeded red
# with the reason, and every check keeps it red: expected, as its host name says.
EXAMPLE_PROXY_URL = "http://demo:demo@example-not-connected-to-any-account.invalid:3128"
EXAMPLE_PROXY_NOTE = (
    "Example proxy from the demo: not connected to any account, and nothing listens at this address, "
    "so its checks fail. Import your own proxies to replace it."
)
# Older demos pointed their accounts at proxies on these ports, where nothing listens either.
OLD_DEMO_PROXY_PORTS = [18080, 18081, 18082, 18083]
POST_TITLE = "Welcome to Crosspost"
POST_CAPTION = (
    "Welcome to Crosspost! Write a post once and publish it to every account, translated and paced for each platform. #crosspost"
)

# The operator's own captions for the other demo languages (Post.options["captions"]), so the
# demo publishes to every account without a translation provider; with DEEPL_API_KEY or
# OPENAI_API_KEY set, removing them lets the providers translate instead.
POST_CAPTIONS = {
    "de": "Willkommen bei Crosspost! Einmal schreiben, überall veröffentlichen – übersetzt und getaktet für jede Plattform. "
    "#crosspost",
    "es": "¡Bienvenido a Crosspost! Escribe una vez y publica en todas tus cuentas, traducido y espaciado para cada "
    "plataforma. #crosspost",
}


def welcome_image() -> bytes:
    """A 1080×1350 (4:5) JPEG; the same bytes on every run, so the upload is de-duplicated."""
    width, height = 1080, 1350
    img = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(img)
    for y in range(height):
        shade = y / height
        draw.line([(0, y), (width, y)], fill=(int(30 + 40 * shade), int(40 + 90 * shade), int(110 + 100 * shade)))
    draw.ellipse((640, 120, 1020, 500), fill=(250, 190, 60))
    draw.rectangle((80, 880, 1000, 900), fill=(255, 255, 255))
    for i, color in enumerate([(230, 70, 90), (70, 200, 150), (250, 250, 250)]):
        draw.rounded_rectangle((80 + i * 180, 960, 220 + i * 180, 1100), radius=28, fill=color)
    draw.text((80, 620), "Crosspost", font=ImageFont.load_default(size=150), fill=(255, 255, 255))
    draw.text((86, 800), "compose once, publish everywhere", font=ImageFont.load_default(size=48), fill=(230, 235, 255))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=88)
    return buf.getvalue()


class Command(BaseCommand):
    help = (
        "Create the demo workspace: operator 'demo' (password from DEMO_PASSWORD), groups, sandbox accounts, "
        "proxies and a draft post. Safe to run again: nothing is duplicated and the password is reset."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        password = os.environ.get("DEMO_PASSWORD") or DEFAULT_PASSWORD
        workspace = self._workspace()
        user = self._operator(workspace, password)
        groups = self._groups(workspace)
        self._proxies(workspace, user)
        self._accounts(workspace, groups, user)
        self._post(workspace, groups, user)
        shown = password if password == DEFAULT_PASSWORD else "the password in DEMO_PASSWORD"
        self.stdout.write(self.style.SUCCESS(f"Log in at /admin/ as {USERNAME} / {shown}"))

    def _report(self, what: str, created: bool, detail: str = "") -> None:
        self.stdout.write(f"{what}: {'created' if created else 'already there'}{detail}")

    def _workspace(self) -> Workspace:
        workspace = Workspace.objects.filter(slug=WORKSPACE["slug"]).first()
        created = workspace is None
        if created:
            workspace = Workspace(**WORKSPACE)
            workspace.full_clean()
            workspace.save()
        self._report(f"Workspace {workspace.name} ({workspace.slug})", created)
        return workspace

    def _operator(self, workspace: Workspace, password: str):
        user_model = get_user_model()
        user = user_model.objects.filter(username=USERNAME).first()
        created = user is None
        if created:
            user = user_model(username=USERNAME, email="demo@example.com")
        changed = created or not user.is_staff or not user.is_active or not user.check_password(password)
        if changed:
            # The README login must always work, so a changed password is put back.
            user.is_staff = user.is_active = True
            user.set_password(password)
            user.save()
        membership, _ = Membership.objects.get_or_create(user=user, workspace=workspace, defaults={"role": Role.OWNER})
        if membership.role != Role.OWNER:
            membership.role = Role.OWNER
            membership.save(update_fields=["role"])
        detail = "" if created or not changed else " (password reset)"
        self._report(f"Operator {USERNAME} (owner of {workspace.slug})", created, detail)
        return user

    def _groups(self, workspace: Workspace) -> list[AccountGroup]:
        groups, created = [], 0
        for name, description in GROUPS:
            group, was_created = AccountGroup.objects.get_or_create(
                workspace=workspace, name=name, defaults={"description": description}
            )
            groups.append(group)
            created += was_created
        self.stdout.write(f"Groups: {', '.join(g.name for g in groups)} ({created} created)")
        return groups

    def _proxies(self, workspace: Workspace, user) -> None:
        old = Proxy.objects.filter(workspace=workspace, scheme="http", host="127.0.0.1", port__in=OLD_DEMO_PROXY_PORTS)
        removed = 0
        if old.exists():
            SocialAccount.objects.filter(workspace=workspace, platform=Platform.SANDBOX, proxy__in=old).update(proxy=None)
            removed = old.count()
            old.delete()
        fields = proxy_fields_from_url(EXAMPLE_PROXY_URL)
        created = not Proxy.objects.filter(workspace=workspace, host=fields["host"], port=fields["port"]).exists()
        if created:
            proxy = proxy_create(workspace=workspace, url=EXAMPLE_PROXY_URL, country="DE", actor=user)
            Proxy.objects.filter(pk=proxy.pk).update(status=ProxyStatus.FAILED, last_error=EXAMPLE_PROXY_NOTE)
        detail = f"; removed {removed} unreachable {'proxy' if removed == 1 else 'proxies'} of an older demo" if removed else ""
        self._report(f"Example proxy {fields['host']} (not connected to any account)", created, detail)

    def _accounts(self, workspace: Workspace, groups: list[AccountGroup], user) -> None:
        existing = set(
            SocialAccount.objects.filter(workspace=workspace, platform=Platform.SANDBOX).values_list("handle", flat=True)
        )
        now = timezone.now()
        created = 0
        for i in range(ACCOUNT_COUNT):
            group = groups[i % len(groups)]
            language = LANGUAGES[(i // len(groups)) % len(LANGUAGES)]
            handle = f"{group.name.lower()}_{language}_{i + 1:02d}"
            if handle in existing:
                continue
            account_create(
                workspace=workspace,
                platform=Platform.SANDBOX,
                handle=handle,
                language=language,
                group=group,
                credentials=secret_to_credentials(Platform.SANDBOX, f"sandbox-demo-token-{i + 1:02d}"),
                # Spread over warm-up (first days) and fully warmed-up accounts.
                warmup_started_at=now - timedelta(days=1 + (i * 5) % 40),
                actor=user,
            )
            created += 1
        self.stdout.write(
            f"Sandbox accounts: {ACCOUNT_COUNT} in {len(groups)} groups, languages {', '.join(LANGUAGES)} ({created} created)"
        )

    def _post(self, workspace: Workspace, groups: list[AccountGroup], user) -> None:
        post = Post.objects.filter(workspace=workspace, title=POST_TITLE).first()
        if post is not None:
            self._report(f"Draft post {POST_TITLE!r}", False)
            return
        upload = SimpleUploadedFile("welcome.jpg", welcome_image(), content_type="image/jpeg")
        asset, _ = media_upload(workspace=workspace, file=upload, actor=user)
        post = post_create(
            workspace=workspace,
            author=user,
            title=POST_TITLE,
            caption=POST_CAPTION,
            language="en",
            media_type=MediaType.PHOTO,
            target_groups=groups,
            media=[asset],
        )
        for language, caption in POST_CAPTIONS.items():
            post_set_caption(post=post, language=language, caption=caption, actor=user)
        self._report(f"Draft post {POST_TITLE!r}", True, f" with a {asset.width}×{asset.height} image, targeting every group")
