"""Tenancy, operators, account groups, proxies and the social accounts themselves."""

import re
import uuid
import zoneinfo
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crosspost.choices import choice_label
from crosspost.crypto import EncryptedJSONField, EncryptedTextField
from crosspost.models import choices_check


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known IANA time zone (e.g. Europe/Berlin)."), params={"value": value})


class Platform(models.TextChoices):
    INSTAGRAM = "instagram", "Instagram"
    VK = "vk", "VK"
    TELEGRAM = "telegram", "Telegram"
    TIKTOK = "tiktok", "TikTok"
    YOUTUBE = "youtube", "YouTube"
    PINTEREST = "pinterest", "Pinterest"
    SANDBOX = "sandbox", "Sandbox"


# Where a single "secret" (CSV import, quick add) goes in an account's credentials.
PLATFORM_SECRET_KEY = {
    Platform.INSTAGRAM: "password",
    Platform.VK: "access_token",
    Platform.TELEGRAM: "bot_token",
    Platform.TIKTOK: "access_token",
    Platform.YOUTUBE: "refresh_token",
    Platform.PINTEREST: "access_token",
    Platform.SANDBOX: "token",
}


class Workspace(models.Model):
    name = models.CharField(max_length=120, verbose_name=_("name"))
    slug = models.SlugField(max_length=60, unique=True, verbose_name=_("slug"))
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone], verbose_name=_("time zone"))
    telegram_admin_chat_id = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("Overrides TELEGRAM_ADMIN_CHAT_ID for this workspace."),
        verbose_name=_("Telegram admin chat ID"),
    )
    posts_need_approval = models.BooleanField(
        default=False,
        help_text=_("A post is published only after an admin or an approver approves it."),
        verbose_name=_("posts need approval"),
    )
    duplicate_window_hours = models.PositiveIntegerField(
        default=24,
        help_text=_("Warn when the same caption and media go to the same account within this many hours (0: never)."),
        verbose_name=_("duplicate warning window (hours)"),
    )
    evergreen_min_gap_days = models.PositiveIntegerField(
        default=30,
        help_text=_("An evergreen post goes to the same account again only after this many days."),
        verbose_name=_("evergreen minimum gap (days)"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("workspace")
        verbose_name_plural = _("workspaces")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    EDITOR = "editor", _("Editor")
    VIEWER = "viewer", _("Viewer")


# Higher rank includes every right of a lower one.
ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


def role_at_least(role: str | None, min_role: str) -> bool:
    """Whether ``role`` (None: no membership) has every right of ``min_role``."""
    return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[Role(min_role)]


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("workspace"))
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER, verbose_name=_("role"))
    timezone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text=_("Empty: the workspace's time zone."),
        verbose_name=_("time zone"),
    )
    can_approve = models.BooleanField(
        default=False,
        help_text=_("May approve or reject posts, whatever the role (admins and owners always may)."),
        verbose_name=_("approver"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="membership_unique_user_workspace"),
            choices_check("role", Role, "membership_valid_role"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.workspace} ({self.get_role_display()})"

    @property
    def effective_timezone(self) -> str:
        return self.timezone or self.workspace.timezone


class AccountGroup(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="groups", verbose_name=_("workspace"))
    name = models.CharField(max_length=120, verbose_name=_("name"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("account group")
        verbose_name_plural = _("account groups")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="group_unique_name_per_workspace")]

    def __str__(self) -> str:
        return self.name


class ProxyScheme(models.TextChoices):
    HTTP = "http", "HTTP"
    HTTPS = "https", "HTTPS"
    SOCKS5 = "socks5", "SOCKS5"


class ProxyStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    FAILED = "failed", _("Failed")
    CHECKING = "checking", _("Checking")


class Proxy(models.Model):
    """An outbound proxy. The full URL (with credentials) is encrypted; host and
    port are kept in clear for display, search and de-duplication."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="proxies", verbose_name=_("workspace"))
    url = EncryptedTextField(help_text=_("scheme://user:password@host:port — stored encrypted."), verbose_name=_("URL"))
    scheme = models.CharField(max_length=8, choices=ProxyScheme.choices, verbose_name=_("scheme"))
    host = models.CharField(max_length=255, verbose_name=_("host"))
    port = models.PositiveIntegerField(verbose_name=_("port"))
    has_credentials = models.BooleanField(default=False, verbose_name=_("has credentials"))
    country = models.CharField(max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2, e.g. DE."), verbose_name=_("country"))
    status = models.CharField(max_length=10, choices=ProxyStatus.choices, default=ProxyStatus.CHECKING, verbose_name=_("status"))
    last_check_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last check"))
    latency_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("latency (ms)"))
    success_rate = models.FloatField(default=1.0, verbose_name=_("success rate"))
    exit_ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("exit IP"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    max_accounts = models.PositiveIntegerField(default=1, verbose_name=_("maximum accounts"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("proxy")
        verbose_name_plural = _("proxies")
        ordering = ["host", "port"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "scheme", "host", "port"], name="proxy_unique_endpoint"),
            choices_check("scheme", ProxyScheme, "proxy_valid_scheme"),
            choices_check("status", ProxyStatus, "proxy_valid_status"),
            models.CheckConstraint(condition=Q(success_rate__gte=0) & Q(success_rate__lte=1), name="proxy_success_rate_0_1"),
            models.CheckConstraint(condition=Q(max_accounts__gte=1), name="proxy_max_accounts_positive"),
        ]
        indexes = [models.Index(fields=["workspace", "status"], name="proxy_ws_status")]

    def __str__(self) -> str:
        return self.display_url

    @property
    def display_url(self) -> str:
        """The URL without credentials: safe for lists, logs and API output."""
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_proxy_url(raw: str) -> dict:
    """Split a proxy URL into the clear-text fields; raise ValidationError naming the problem.

    ``host:port:user:password``, the way proxy sellers list them, is taken as the HTTP proxy
    ``http://user:password@host:port`` (the returned ``url``).
    """
    raw = proxy_url_from_list_line((raw or "").strip())
    if not raw:
        raise ValidationError(_("Enter a proxy URL such as http://user:pass@203.0.113.5:8080."))
    try:
        parts = urlsplit(raw)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise ValidationError(_("The proxy URL cannot be parsed (%(error)s)."), params={"error": exc}) from None
    scheme = parts.scheme.lower()
    if scheme == "socks5h":
        scheme = "socks5"
    if scheme not in ProxyScheme.values:
        raise ValidationError(
            _("Proxy scheme %(scheme)r is not supported: use http, https or socks5."), params={"scheme": parts.scheme}
        )
    try:
        port = parts.port
    except ValueError:
        raise ValidationError(_("The proxy port must be a number from 1 to 65535.")) from None
    if not parts.hostname:
        raise ValidationError(_("The proxy URL has no host: expected scheme://[user:pass@]host:port."))
    if not port:
        raise ValidationError(_("The proxy URL has no port: expected scheme://[user:pass@]host:port."))
    if parts.path not in ("", "/") or parts.query:
        raise ValidationError(_("A proxy URL has no path or query: expected scheme://[user:pass@]host:port."))
    return {
        "url": raw,
        "scheme": scheme,
        "host": parts.hostname,
        "port": port,
        # A password alone (http://:secret@host:port) is a credential too.
        "has_credentials": bool(parts.username or parts.password),
    }


LIST_HOST_RE = re.compile(r"[A-Za-z0-9.-]+")  # a host name or IPv4 address


def proxy_url_from_list_line(line: str) -> str:
    """``host:port:user:password`` as ``http://user:password@host:port``; anything else unchanged.

    The password may contain colons; user and password are percent-encoded for the URL.
    """
    fields = line.split(":", 3)
    if "://" in line or len(fields) != 4 or not all(fields):
        return line
    host, port, user, password = fields
    if not (LIST_HOST_RE.fullmatch(host) and port.isdigit()):
        return line
    return f"http://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    COOLDOWN = "cooldown", _("Cooldown")
    LOGIN_REQUIRED = "login_required", _("Login required")
    PROXY_ERROR = "proxy_error", _("Proxy error")
    # The platform took the right to post away (a bot kicked from its channel, a user no longer
    # an editor of the community wall): nothing is planned until a check finds it back.
    NO_ACCESS = "no_access", _("No access")
    BANNED = "banned", _("Banned")
    DISABLED = "disabled", _("Disabled")


# States an operator must act on to get the account posting again: the admin chat is told, the
# activity log says "failed", the dashboard lists them (with cooldowns, which only need waiting).
NEEDS_ACTION_STATUSES = (AccountStatus.BANNED, AccountStatus.LOGIN_REQUIRED, AccountStatus.PROXY_ERROR, AccountStatus.NO_ACCESS)


class SocialAccount(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="accounts", verbose_name=_("workspace"))
    platform = models.CharField(max_length=16, choices=Platform.choices, verbose_name=_("platform"))
    handle = models.CharField(
        max_length=150, help_text=_("Username, channel (@name), wall id or board, per platform."), verbose_name=_("handle")
    )
    external_id = models.CharField(max_length=64, blank=True, verbose_name=_("external ID"))
    group = models.ForeignKey(
        AccountGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts", verbose_name=_("group")
    )
    language = models.CharField(
        max_length=10, default="en", help_text=_("BCP-47 / DeepL code, e.g. en, de, pt-BR."), verbose_name=_("language")
    )
    timezone = models.CharField(max_length=64, blank=True, validators=[validate_timezone], verbose_name=_("time zone"))
    proxy = models.ForeignKey(
        Proxy, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts", verbose_name=_("proxy")
    )
    credentials = EncryptedJSONField(
        help_text=_("Password, tokens, bot token, refresh token — encrypted."), verbose_name=_("credentials")
    )
    session = EncryptedJSONField(
        help_text=_("Platform session (instagrapi settings, cookies) — encrypted."), verbose_name=_("session")
    )
    options = models.JSONField(
        default=dict, blank=True, help_text=_("Non-secret target settings (chat id, board …)."), verbose_name=_("options")
    )
    device_id = models.CharField(max_length=64, blank=True, verbose_name=_("device ID"))
    user_agent = models.CharField(max_length=400, blank=True, verbose_name=_("user agent"))
    status = models.CharField(
        max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE, verbose_name=_("status")
    )
    status_reason = models.TextField(blank=True, verbose_name=_("status reason"))
    cooldown_until = models.DateTimeField(null=True, blank=True, verbose_name=_("cooldown until"))
    posts_limit_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Empty: the platform policy's daily limit."), verbose_name=_("posts per day limit")
    )
    warmup_started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("warm-up started"))
    last_post_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last post"))
    last_login_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last login"))
    last_check_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last check"))
    failed_attempts = models.PositiveIntegerField(default=0, verbose_name=_("failed attempts"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("social account")
        verbose_name_plural = _("social accounts")
        ordering = ["platform", "handle"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "platform", "handle"], name="account_unique_handle_per_platform"),
            choices_check("platform", Platform, "account_valid_platform"),
            choices_check("status", AccountStatus, "account_valid_status"),
        ]
        indexes = [
            models.Index(fields=["workspace", "status"], name="account_ws_status"),
            models.Index(fields=["workspace", "platform", "status"], name="account_ws_platform_status"),
            models.Index(fields=["group", "status"], name="account_group_status"),
            # The accounts list's language choices walk it from one language to the next.
            models.Index(fields=["workspace", "language"], name="account_ws_language"),
        ]

    def __str__(self) -> str:
        return f"{choice_label(self, 'platform')} {self.handle}"

    @property
    def credential_keys(self) -> list[str]:
        """Names of the stored secrets (never their values) for display."""
        return sorted(self.credentials or {})


class AccountEvent(models.Model):
    """One status transition of an account: the account's health history."""

    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="events", verbose_name=_("account"))
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="account_events", verbose_name=_("workspace"))
    from_status = models.CharField(max_length=16, choices=AccountStatus.choices, blank=True, verbose_name=_("from status"))
    to_status = models.CharField(max_length=16, choices=AccountStatus.choices, verbose_name=_("to status"))
    reason = models.TextField(blank=True, verbose_name=_("reason"))
    until = models.DateTimeField(null=True, blank=True, verbose_name=_("until"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("actor"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("account status change")
        verbose_name_plural = _("account status changes")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["account", "-created_at"], name="account_event_recent")]

    def __str__(self) -> str:
        return f"{self.account}: {choice_label(self, 'from_status') or '∅'} → {choice_label(self, 'to_status')}"
