"""The planner: from a post and its targets to one execution per eligible account.

``post_publish`` expands target groups and accounts, gets each language's
caption (laid out by the post's or the policy's template) — or, for a post in the
AI caption mode, the stored AI caption of each (platform, language) — runs the
adapters' ``validate()`` and the policy rules, schedules every account with the
pacing rules and bulk-creates the executions. It answers with
the plan — per account, when it will post or why it will not. The number of
queries does not depend on the number of accounts (up to one INSERT per ``CHUNK``
executions: a plan to 100,000 accounts is read and written in chunks, see
``_accounts`` and ``_insert_executions``), and publishing twice never
creates a second execution for an account (the (post, account) constraint plus
``ignore_conflicts``).

A target that cannot be published to is not dropped: it gets a ``blocked``
execution with the reason, so every total counts it. When the cause is
temporary (a translation provider's rate limit or outage) the execution keeps
``next_attempt_at`` and ``publisher.replan_due_blocked`` plans it again then;
publishing the post again re-plans every blocked one. A blocked execution
becomes pending through a conditional update, so two runs never both plan it
(re-planning costs one such UPDATE per blocked execution).
Pending renditions are not a block: the publisher waits for them.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import ExpressionWrapper, F, Q, TextField
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import AccountStatus, Platform, Proxy, SocialAccount, Workspace
from crosspost.activity import log_activity
from crosspost.models import LogStatus
from media.selectors import assets_of
from media.services import media_problems, planned_media_items, profiles_for, request_renditions, trim_allowed
from platforms.base import AccountSnapshot, MediaItem, PublishRequest
from platforms.registry import get_adapter, has_adapter
from posts.account_snapshots import snapshot_of
from posts.models import CaptionMode, Post, PostStatus, Priority
from posts.options import caption_overrides, check_stored_options, platform_post_options
from posts.pipeline import publish_approved
from posts.services import check_caption, check_scheduled_at, hash_content
from products.services import product_facts
from translations.services import CaptionResult, captions_for

from .adapters import account_snapshot, platform_media
from .ai_captions import post_captions_prepare
from .approvals import approval_needed, approval_refusal
from .caption_templates import render_caption
from .duplicates import duplicate_warning, duplicates_for
from .models import OPEN_EXECUTION_STATUSES, Execution, ExecutionStatus, PublishingPolicy
from .pacing import DAY, AccountPacing, Pacing, schedule_post
from .rules import check_rules, switched_off
from .targets import accounts_to_plan, target_accounts

# Accounts in these states get no execution; the plan says why.
INELIGIBLE_REASONS = {
    AccountStatus.LOGIN_REQUIRED: "The account needs a new login.",
    AccountStatus.PROXY_ERROR: "The account's proxy is failing: fix or replace it.",
    AccountStatus.NO_ACCESS: "The account lost the right to post there:",  # + the platform's words (status_reason)
    AccountStatus.BANNED: "The account is banned.",
    AccountStatus.DISABLED: "The account is disabled.",
}

# Automatic re-plans of a temporarily blocked target, each waiting at least the provider's
# retry_after and twice as long as the one before (up to an hour); after the last one the
# target stays blocked until an operator publishes again.
BLOCKED_MAX_REPLANS = 12
BLOCKED_MAX_WAIT = timedelta(hours=1)

# The sandbox paces in seconds so a demo finishes in a couple of minutes;
# real platforms keep the real anti-ban pacing (the model's field defaults).
DEFAULT_POLICIES = {
    Platform.SANDBOX: {
        "min_interval_s": 10,
        "stagger_min_s": 1,
        "stagger_max_s": 3,
        "daily_limit": 500,
        "warmup_curve": [100],
        "warmup_ramp_days": 0,
    },
}


def policy_for(workspace_id: int, platform: str, saved: dict[str, PublishingPolicy]) -> PublishingPolicy:
    """The workspace's saved policy for ``platform``, else the default (unsaved)."""
    if platform in saved:
        return saved[platform]
    return PublishingPolicy(workspace_id=workspace_id, platform=platform, **DEFAULT_POLICIES.get(platform, {}))


@dataclass
class PlanEntry:
    account_id: str
    handle: str
    platform: str
    language: str
    status: str  # "planned" | "exists" | "blocked"
    scheduled_for: datetime | None = None
    caption: str = ""
    problems: list[str] = field(default_factory=list)
    execution_id: int | None = None
    # Blocked for a temporary cause: seconds until it is planned again by itself.
    retry_after: int | None = None
    # An existing blocked execution this run leaves as it is (a periodic re-plan of other targets).
    unchanged: bool = field(default=False, repr=False)
    # Planned all the same, but worth a look: the same content goes to this account nearby (duplicates).
    warnings: list[str] = field(default_factory=list)


@dataclass
class Plan:
    post_id: int
    dry_run: bool
    entries: list[PlanEntry]
    # A dry run of a post that needs an approval it does not have: why it would be refused.
    approval_required: str = ""

    @property
    def created(self) -> int:
        return sum(1 for e in self.entries if e.status == "planned")

    @property
    def blocked(self) -> int:
        return sum(1 for e in self.entries if e.status == "blocked")

    def nothing_to_publish(self) -> str:
        """Why not one target can be published to, grouped by reason ('' when some can)."""
        if any(e.status != "blocked" for e in self.entries):
            return ""
        reasons: dict[str, list[str]] = {}
        for entry in self.entries:
            reasons.setdefault("; ".join(entry.problems), []).append(entry.handle)
        shown = []
        for reason, handles in list(reasons.items())[:5]:
            names = ", ".join(handles[:5])
            if len(handles) > 5:
                names += " " + _("and %(count)d more") % {"count": len(handles) - 5}
            shown.append(f"{names}: {reason}")
        total = len(self.entries)
        return (
            ngettext(
                "Nothing was published: the only target account is blocked.",
                "Nothing was published: all %(count)d target accounts are blocked.",
                total,
            )
            % {"count": total}
            + " "
            + " · ".join(shown)
        )

    def summary(self) -> dict:
        """``as_dict`` without the accounts: the counts (what the activity log keeps)."""
        counts = Counter(e.status for e in self.entries)
        return {
            "post": self.post_id,
            "dry_run": self.dry_run,
            "planned": counts["planned"],
            "existing": counts["exists"],
            "blocked": counts["blocked"],
            "approval_required": self.approval_required,
        }

    def as_dict(self) -> dict:
        return {
            **self.summary(),
            "accounts": [
                {
                    **{k: v for k, v in asdict(e).items() if k != "unchanged"},
                    "scheduled_for": e.scheduled_for.isoformat() if e.scheduled_for else None,
                }
                for e in self.entries
            ],
        }


def busy_times(account_ids, now: datetime, *, exclude_post_id: int | None = None) -> dict[object, list[datetime]]:
    """Each account's posts that count for pacing: successful in the last 24 h and every open one
    (but none of ``exclude_post_id``'s: a post being rescheduled does not keep its own old times).
    ``account_ids``: a list, or a query of them (the planner's: no list of 100,000 ids sent back)."""
    rows = Execution.objects.filter(account_id__in=account_ids).filter(
        Q(status__in=OPEN_EXECUTION_STATUSES) | Q(status=ExecutionStatus.SUCCESS, finished_at__gte=now - DAY)
    )
    if exclude_post_id is not None:
        rows = rows.exclude(post_id=exclude_post_id)
    busy: dict[object, list[datetime]] = {}
    for account_id, status, scheduled_for, finished_at in rows.values_list(
        "account_id", "status", "scheduled_for", "finished_at"
    ):
        at = finished_at if status == ExecutionStatus.SUCCESS and finished_at else scheduled_for
        busy.setdefault(account_id, []).append(at)
    for times in busy.values():
        times.sort()
    return busy


def post_publish(
    *,
    post: Post,
    actor=None,
    dry_run: bool = False,
    scheduled_at: datetime | None = None,
    priority: str | None = None,
    seed: int | None = None,
    now: datetime | None = None,
    due_only: bool = False,
) -> Plan:
    """Plan (and unless ``dry_run``, create) the executions of ``post``.

    Every target gets an execution: pending, or blocked with the reason. When not one
    target can be published to, nothing is created and a ValidationError says why
    (the post stays as it was). Existing blocked executions are planned again — with
    ``due_only`` (the periodic re-plan) only those whose ``next_attempt_at`` has come.

    In a workspace where posts need approval, an unapproved post is refused (code
    ``approval_required``); a dry run still plans, and says so in ``Plan.approval_required``.
    The periodic re-plan is not checked: it only re-plans what was published before.
    """
    now = now or timezone.now()
    if priority is not None and priority not in Priority.values:
        raise ValidationError({"priority": f"Choose one of {', '.join(Priority.values)}."})
    try:
        check_scheduled_at(scheduled_at, now=now)
    except ValidationError as exc:
        raise ValidationError({"scheduled_at": exc}) from None
    try:
        check_caption(post.media_type, post.caption)
    except ValidationError as exc:
        raise ValidationError({"caption": exc}) from None
    check_stored_options(post)
    # Translation and product look-ups call the network: do them before any
    # transaction, so no lock (on SQLite: the database write lock) waits on them.
    texts = _captions(post, now=now, due_only=due_only)
    with transaction.atomic():
        if not dry_run:
            post = Post.objects.select_for_update().get(pk=post.pk)
        if post.status == PostStatus.CANCELLED:
            raise ValidationError("This post was cancelled; duplicate it to publish again.", code="conflict")
        # Checked on the locked row: an approval withdrawn by an edit a moment ago counts.
        refusal = approval_refusal(post) if not due_only and approval_needed(post) else ""
        if refusal and not dry_run:
            raise ValidationError(refusal, code="approval_required")
        if scheduled_at is not None:
            post.scheduled_at = scheduled_at
        if priority is not None:
            post.priority = priority
        media = _PlatformMedia(post)
        plan = _plan(post, now=now, seed=seed, texts=texts, media=media, due_only=due_only)
        if dry_run:
            plan.approval_required = refusal
            return plan
        nothing = plan.nothing_to_publish()
        if nothing and not due_only:
            raise ValidationError(nothing, code="nothing_to_publish")
        _create_executions(post, plan, now=now, due_only=due_only)
        media.request_renditions({e.platform for e in plan.entries if e.status == "planned"})
        if not due_only:
            publish_approved(post_id=post.pk)  # a draft waiting for review in its pipeline goes on
        log_activity(
            action="post.publish",
            post=post,
            actor=actor,
            status=LogStatus.SUCCESS if plan.created else LogStatus.INFO,
            message=f"Planned {plan.created} execution(s); {plan.blocked} blocked.",
            details=plan.summary(),
        )
    return plan


@dataclass
class _Texts:
    captions: dict[str, CaptionResult]  # by language, laid out per platform by a template
    product: dict | None
    # The AI caption mode: final captions by (platform, language), published as reviewed.
    per_platform: dict[tuple[str, str], CaptionResult] | None = None


def _captions(post: Post, *, now: datetime, due_only: bool) -> _Texts:
    """Each target language's caption (operator override, cache or provider) and the product facts;
    for a post in the AI caption mode, the AI caption of each (platform, language) instead."""
    product = product_facts((post.options or {}).get("product"))
    if post.caption_mode == CaptionMode.AI:
        return _Texts(captions={}, product=product, per_platform=_ai_captions(post, now=now, due_only=due_only))
    languages = set(accounts_to_plan(post, now=now, due_only=due_only).order_by().values_list("language", flat=True).distinct())
    captions = captions_for(
        text=post.caption,
        source=post.language,
        targets=languages,
        workspace=post.workspace_id,
        overrides=caption_overrides(post),
        title=post.title,
    )
    return _Texts(captions=captions, product=product)


def _ai_captions(post: Post, *, now: datetime, due_only: bool) -> dict[tuple[str, str], CaptionResult]:
    """The stored (written now, kept or edited) AI caption of every (platform, language) the plan
    needs; one that could not be written is no caption and the reason — never the raw brief."""
    outcome = post_captions_prepare(post=post, now=now, due_only=due_only)
    captions = {pair: CaptionResult(pair[1], caption, provider="ai") for pair, caption in outcome.captions.items()}
    for pair, reason in outcome.problems.items():
        captions[pair] = CaptionResult(
            pair[1], None, problem=f"AI caption: {reason}", provider="ai", retry_after=outcome.retry_after.get(pair)
        )
    return captions


@dataclass(frozen=True)
class _Existing:
    pk: int
    status: str
    scheduled_for: datetime
    caption: str
    next_attempt_at: datetime | None
    error_message: str
    attempts: int


# Accounts are read (and their executions written) this many at a time: a plan to 100,000 accounts
# never holds them all as model instances.
CHUNK = 10_000


class _SealedSecret(Mapping):
    """An account's stored secret (credentials, session) decrypted the first time it is read.

    Most adapters' ``validate()`` never read them (the sandbox's), the others only the
    credentials: a plan decrypts what is read, not two Fernet tokens per account.
    """

    __slots__ = ("_field", "_token", "_value")

    def __init__(self, field, token: str | None) -> None:
        self._field, self._token, self._value = field, token, None

    def _opened(self) -> dict:
        if self._value is None:
            self._value = self._field.from_db_value(self._token, None, None)
        return self._value

    def __getitem__(self, key):
        return self._opened()[key]

    def __iter__(self):
        return iter(self._opened())

    def __len__(self) -> int:
        return len(self._opened())

    def __repr__(self) -> str:
        return "<sealed secret>"


class _Target(NamedTuple):
    """A target account as ``_accounts`` reads it: a row, not a model instance — the columns the
    plan uses under the names of ``SocialAccount``'s attributes, its options as stored (JSON text,
    parsed only for a snapshot) and its secrets as stored (decrypted only when an adapter reads them)."""

    pk: uuid.UUID
    handle: str
    platform: str
    language: str
    status: str
    status_reason: str
    proxy_id: int | None
    posts_limit_per_day: int | None
    warmup_started_at: datetime | None
    cooldown_until: datetime | None
    timezone: str
    external_id: str
    user_agent: str
    device_id: str
    raw_options: str | None
    sealed_credentials: str | None
    sealed_session: str | None

    def snapshot(self, proxies: Mapping[int, Proxy], workspace_tz: str) -> AccountSnapshot:
        """What ``account_snapshot`` gives an adapter, for ``validate()``: without the callbacks that
        store renewed credentials or a session (a preflight check renews nothing), secrets sealed."""
        options = _OPTIONS.from_db_value(self.raw_options, None, connection) if self.raw_options is not None else None
        return snapshot_of(
            self,
            options=options or {},
            credentials=_SealedSecret(_CREDENTIALS, self.sealed_credentials),
            session=_SealedSecret(_SESSION, self.sealed_session),
            proxy=proxies.get(self.proxy_id) if self.proxy_id else None,
            timezone=self.timezone or workspace_tz,
        )


_OPTIONS = SocialAccount._meta.get_field("options")
_CREDENTIALS = SocialAccount._meta.get_field("credentials")
_SESSION = SocialAccount._meta.get_field("session")


def _accounts(post: Post) -> Iterator[_Target]:
    """The post's target accounts, in plan order, read ``CHUNK`` at a time as rows (``_Target``):
    no model instances, no workspace or proxy joined into every row, no column the plan does not use."""
    raw = TextField()
    rows = (
        target_accounts(post)
        .select_related(None)
        .annotate(
            raw_options=ExpressionWrapper(F("options"), output_field=raw),
            sealed_credentials=ExpressionWrapper(F("credentials"), output_field=raw),
            sealed_session=ExpressionWrapper(F("session"), output_field=raw),
        )
        .values_list(*_Target._fields)
    )
    make = _Target._make
    for row in rows.iterator(chunk_size=CHUNK):
        yield make(row)


def _plan(post: Post, *, now: datetime, seed: int | None, texts: _Texts, media: _PlatformMedia, due_only: bool = False) -> Plan:
    workspace = Workspace.objects.get(pk=post.workspace_id)
    existing = {
        row[0]: _Existing(*row[1:])
        for row in Execution.objects.filter(post=post).values_list(
            "account_id", "pk", "status", "scheduled_for", "caption", "next_attempt_at", "error_message", "attempts"
        )
    }
    saved_policies = {p.platform: p for p in PublishingPolicy.objects.filter(workspace_id=post.workspace_id)}
    busy = busy_times(target_accounts(post).values("pk"), now)
    start = max(now, post.scheduled_at) if post.scheduled_at else now
    workspace_tz = workspace.timezone

    entries: dict[object, PlanEntry] = {}
    to_schedule: list[tuple[AccountPacing, str]] = []
    pacing_for: dict[str, Pacing] = {}
    preflight = _Preflight(post, media, saved_policies, proxies=_proxies(post), workspace_tz=workspace_tz)
    captions: dict[tuple[str, str], CaptionResult] = {}  # (platform, language) → the caption its accounts get
    for account in _accounts(post):
        entry = PlanEntry(
            account_id=str(account.pk),
            handle=account.handle,
            platform=account.platform,
            language=account.language,
            status="planned",
        )
        entries[account.pk] = entry
        found = existing.get(account.pk)
        if found is not None:
            entry.execution_id = found.pk
            if found.status != ExecutionStatus.BLOCKED:
                entry.scheduled_for, entry.caption = found.scheduled_for, found.caption
                entry.status = "exists"
                continue
            if due_only and not (found.next_attempt_at and found.next_attempt_at <= now):
                entry.status, entry.problems, entry.unchanged = "blocked", [found.error_message], True
                continue
        key = (account.platform, account.language)
        caption = captions.get(key)
        if caption is None:
            caption = captions[key] = _caption_for(post, key, texts, saved_policies)
        entry.caption = caption.caption or ""
        entry.problems = preflight.problems(account, caption)
        if entry.problems:
            entry.status = "blocked"
            if caption.retry_after is not None and entry.problems == [caption.problem]:
                replans = found.attempts + 1 if due_only and found is not None else 0
                if replans < BLOCKED_MAX_REPLANS:
                    wait = min(max(caption.retry_after, 60 * 2**replans), BLOCKED_MAX_WAIT.total_seconds())
                    entry.retry_after = int(wait)
            continue
        if account.platform not in pacing_for:
            pacing_for[account.platform] = Pacing.from_policy(policy_for(post.workspace_id, account.platform, saved_policies))
        to_schedule.append((account_pacing(account, busy, workspace_tz), account.platform))
    if not entries:
        raise ValidationError("The post has no target accounts: add target groups or accounts.", code="conflict")
    rng = random.Random(seed if seed is not None else post.pk)
    for key, at in schedule_post(pacing_for, to_schedule, start, rng).items():
        entries[key].scheduled_for = at
    _warn_duplicates(post, entries, media, now=now, workspace=workspace)
    return Plan(post_id=post.pk, dry_run=True, entries=list(entries.values()))


def _caption_for(post: Post, key: tuple[str, str], texts: _Texts, saved_policies) -> CaptionResult:
    """The caption the accounts of ``key`` (platform, language) get: the AI caption of the pair, or
    the language's caption laid out by the platform's policy template."""
    platform, language = key
    changed = CaptionResult(language, None, problem="The post's targets changed while it was being planned: publish again.")
    if texts.per_platform is not None:
        return texts.per_platform.get(key) or changed
    caption = texts.captions.get(language) or changed
    if caption.caption is None:
        return caption
    text = render_caption(
        saved_policies.get(platform),
        post,
        caption.caption,
        title=caption.title,
        product=texts.product,
        template=post.caption_template if post.caption_mode == CaptionMode.TEMPLATE else None,
    )
    return dataclasses.replace(caption, caption=text)


def _warn_duplicates(post: Post, entries: dict[object, PlanEntry], media: _PlatformMedia, *, now: datetime, workspace) -> None:
    """Each planned entry's duplicate warnings, from one query for every account."""
    planned = {key: entry.scheduled_for for key, entry in entries.items() if entry.status == "planned"}
    if not planned or not workspace.duplicate_window_hours:
        return
    fingerprint = hash_content(post.caption, [asset.sha256 for asset in media.assets])
    found = duplicates_for(
        post,
        planned,
        now=now,
        planned=planned,
        window_hours=workspace.duplicate_window_hours,
        fingerprint=fingerprint,
        among=target_accounts(post).values("pk"),
    )
    for key, items in found.items():
        entries[key].warnings = [duplicate_warning(item, workspace.timezone) for item in items]


def account_pacing(account: SocialAccount, busy: dict[object, list[datetime]], workspace_tz: str) -> AccountPacing:
    """What pacing needs of ``account``: its busy times, limits, warm-up, cooldown and time zone."""
    return AccountPacing(
        key=account.pk,
        busy=busy.get(account.pk, []),
        limit_override=account.posts_limit_per_day,
        warmup_started_at=account.warmup_started_at,
        not_before=account.cooldown_until if account.status == AccountStatus.COOLDOWN else None,
        tz=zoneinfo.ZoneInfo(account.timezone or workspace_tz),
    )


def pace_accounts(
    post: Post, accounts: list[SocialAccount], *, start: datetime, now: datetime, seed: int | None = None
) -> dict[object, datetime]:
    """When each of ``accounts`` posts ``post`` starting at ``start``, by the same pacing as a
    plan: the workspace's policies, every other post's busy times (not this post's own), the
    post's seed. For a reschedule, whose targets are already planned."""
    if not accounts:
        return {}
    saved_policies = {p.platform: p for p in PublishingPolicy.objects.filter(workspace_id=post.workspace_id)}
    busy = busy_times([a.pk for a in accounts], now, exclude_post_id=post.pk)
    workspace_tz = accounts[0].workspace.timezone
    pacing_for: dict[str, Pacing] = {}
    to_schedule = []
    for account in accounts:
        policy = policy_for(post.workspace_id, account.platform, saved_policies)
        pacing_for.setdefault(account.platform, Pacing.from_policy(policy))
        to_schedule.append((account_pacing(account, busy, workspace_tz), account.platform))
    rng = random.Random(seed if seed is not None else post.pk)
    return schedule_post(pacing_for, to_schedule, max(now, start), rng)


class _PlatformMedia:
    """The post's media as each platform will get it (its media type and renditions,
    ``adapters.platform_media``), computed once per platform."""

    def __init__(self, post: Post) -> None:
        self.post = post
        self.assets = assets_of(post)
        self._forms: dict[str, tuple[str, list]] = {}
        self._items: dict[str, tuple[MediaItem, ...]] = {}
        self._problems: dict[str, list[str]] = {}

    def allow_trim(self, platform: str) -> bool:
        return trim_allowed(self.post.options, platform)

    def form(self, platform: str) -> tuple[str, list]:
        """(media type, assets) the platform publishes."""
        if platform not in self._forms:
            self._forms[platform] = platform_media(platform=platform, media_type=self.post.media_type, assets=self.assets)
        return self._forms[platform]

    def items(self, platform: str) -> tuple[MediaItem, ...]:
        if platform not in self._items:
            media_type, assets = self.form(platform)
            self._items[platform] = planned_media_items(assets=assets, platform=platform, media_type=media_type)
        return self._items[platform]

    def problems(self, platform: str) -> list[str]:
        if platform not in self._problems:
            media_type, assets = self.form(platform)
            self._problems[platform] = media_problems(
                assets=assets, platform=platform, media_type=media_type, allow_trim=self.allow_trim(platform)
            )
        return self._problems[platform]

    def request_renditions(self, platforms: set[str]) -> None:
        """Ask for exactly the renditions the planned platforms need (rendered after commit)."""
        for platform in sorted(platforms):
            media_type, assets = self.form(platform)
            request_renditions(assets=assets, profiles=profiles_for(platform, media_type), allow_trim=self.allow_trim(platform))


def _proxies(post: Post) -> dict[int, Proxy]:
    """The target accounts' proxies, each read (and its URL decrypted) once, not once per account."""
    return {proxy.pk: proxy for proxy in Proxy.objects.filter(pk__in=target_accounts(post).values("proxy_id"))}


@dataclass
class _PlatformChecks:
    """What the preflight of a platform's accounts shares: the same for all of them."""

    label: str  # the platform's name (its code when the installation does not know it)
    off: str  # why the workspace's rules switch the platform off ('' when they do not)
    available: bool  # whether this installation has an adapter for it
    # By caption text: the adapter's ``validate()`` problems when it reads nothing of the account
    # (else None: validated per account) and the policy's rules' problems.
    by_caption: dict[str, tuple[list[str] | None, list[str]]] = field(default_factory=dict)


class _Preflight:
    """Why an account of the plan cannot be published to (``problems``; [] when it can).

    In order: the platform switched off by the workspace's rules, the account's state, no adapter,
    no caption, then the media's problems, the adapter's ``validate()`` and the policy's rules. What
    does not depend on the account is computed once per platform, or once per (platform, caption):
    the media's problems, the rules, and ``validate()`` itself for an adapter whose ``validate``
    reads nothing of the account (``Adapter.validate_reads_account``); the others validate each
    account, with a snapshot whose secrets are decrypted only if ``validate`` reads them.
    """

    def __init__(self, post: Post, media: _PlatformMedia, saved_policies, *, proxies: Mapping[int, Proxy], workspace_tz: str):
        self.post, self.media, self.saved_policies = post, media, saved_policies
        self.proxies, self.workspace_tz = proxies, workspace_tz
        self._platforms: dict[str, _PlatformChecks] = {}

    def _platform(self, platform: str) -> _PlatformChecks:
        checks = self._platforms.get(platform)
        if checks is None:
            label = Platform(platform).label if platform in Platform.values else platform
            checks = self._platforms[platform] = _PlatformChecks(
                label=label,
                off=switched_off(self.saved_policies.get(platform), label),
                available=has_adapter(platform),
            )
        return checks

    def _request(self, account: _Target | SocialAccount, caption: str) -> PublishRequest:
        platform = account.platform
        # A model instance only in the tests' per-account reference (they plan both ways and compare).
        snapshot = (
            account.snapshot(self.proxies, self.workspace_tz) if isinstance(account, _Target) else account_snapshot(account)
        )
        return PublishRequest(
            account=snapshot,
            caption=caption,
            media_type=self.media.form(platform)[0],
            media=self.media.items(platform),
            options=platform_post_options(self.post, platform),  # checked once, in post_publish
        )

    def problems(self, account: _Target | SocialAccount, caption: CaptionResult) -> list[str]:
        checks = self._platform(account.platform)
        if checks.off:
            return [checks.off]
        if account.status in INELIGIBLE_REASONS:
            if account.status == AccountStatus.NO_ACCESS:
                return [f"{INELIGIBLE_REASONS[account.status]} {account.status_reason.strip() or 'a check will tell.'}"]
            return [INELIGIBLE_REASONS[account.status]]
        if not checks.available:
            return [f"Publishing to {checks.label} is not available yet in this installation."]
        if caption.caption is None:
            return [caption.problem]
        adapter = get_adapter(account.platform)  # cached: one instance per platform
        shared = checks.by_caption.get(caption.caption)
        if shared is None:
            policy = self.saved_policies.get(account.platform)
            once = None
            if not adapter.validate_reads_account:
                once = [p.message for p in adapter.validate(self._request(account, caption.caption))]
            rules = [p.message for p in check_rules(policy, caption.caption, self.media.assets)]
            shared = checks.by_caption[caption.caption] = (once, rules)
        validated, rules = shared
        if validated is None:
            validated = [p.message for p in adapter.validate(self._request(account, caption.caption))]
        return [*self.media.problems(account.platform), *validated, *rules]


def _blocked_fields(entry: PlanEntry, now: datetime) -> dict:
    retry_at = now + timedelta(seconds=entry.retry_after) if entry.retry_after is not None else None
    return {
        "status": ExecutionStatus.BLOCKED,
        "caption": entry.caption,
        "scheduled_for": retry_at or now,
        "next_attempt_at": retry_at,
        "error_code": "blocked_retry_later" if retry_at else "blocked",
        "error_message": "\n".join(entry.problems),
    }


# The columns of a new execution that differ from one account to the next.
_PER_ACCOUNT = ("account_id", "language", "caption", "status", "scheduled_for", "next_attempt_at", "error_code", "error_message")


def _new_rows(post: Post, plan: Plan, now: datetime) -> Iterator[dict]:
    """The fields of every execution this plan creates (only ``_PER_ACCOUNT`` ones)."""
    for entry in plan.entries:
        if entry.execution_id is not None or entry.status not in ("planned", "blocked"):
            continue
        fields = {"account_id": entry.account_id, "language": entry.language}
        fields.update(next_attempt_at=None, error_code="", error_message="")
        if entry.status == "planned":
            fields.update(caption=entry.caption, scheduled_for=entry.scheduled_for, status=ExecutionStatus.PENDING)
        else:
            fields.update(_blocked_fields(entry, now))
        yield fields


def _unnest_insert() -> bool:
    """Whether executions are inserted from arrays (PostgreSQL's ``unnest``), not by ``bulk_create``."""
    return connection.vendor == "postgresql"


def _array_literal(values: Iterable) -> str:
    """``values`` (text, UUIDs, aware datetimes, None) as one PostgreSQL array literal, each
    distinct value written once: a list parameter is dumped element by element in Python (a
    quarter of a plan's CPU at 10,000 accounts), while a plan's columns repeat a few values
    (language, caption, status, reason) — ``{"…","…",NULL}``, every element quoted, so any text is safe."""
    written: dict = {None: "NULL"}
    parts = []
    for value in values:
        part = written.get(value)
        if part is None:
            text = value.isoformat() if isinstance(value, datetime) else str(value)
            if "\\" in text or '"' in text:
                text = text.replace("\\", "\\\\").replace('"', '\\"')
            part = written[value] = f'"{text}"'
        parts.append(part)
    return "{" + ",".join(parts) + "}"


def _insert_executions(post: Post, rows: Iterator[dict]) -> None:
    """Create the executions of ``rows``; one already there for the account is left as it is.

    On PostgreSQL one ``INSERT … SELECT … FROM unnest(…)`` per ``CHUNK`` executions, the
    per-account columns as arrays and every other column once, as ``bulk_create`` would
    have prepared it for each row (Django's defaults, ``auto_now`` stamps): ``bulk_create``
    spent most of a 10,000-account plan preparing 22 values per row. Elsewhere (SQLite),
    ``bulk_create`` itself.
    """
    common = {"workspace_id": post.workspace_id, "post_id": post.pk, "priority": post.priority}
    if not _unnest_insert():
        new = (Execution(**common, **row) for row in rows)
        while chunk := list(islice(new, CHUNK)):
            Execution.objects.bulk_create(chunk, ignore_conflicts=True)
        return
    template = Execution(**common, account_id=None, scheduled_for=None)
    constant, per_account = [], []
    for model_field in Execution._meta.concrete_fields:
        if model_field.primary_key:
            continue
        (per_account if model_field.attname in _PER_ACCOUNT else constant).append(model_field)
    assert {f.attname for f in per_account} == set(_PER_ACCOUNT), "a per-account column is not an Execution field"
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in constant + per_account)
    values = [f.get_db_prep_save(f.pre_save(template, True), connection) for f in constant]
    casts = [f"%s::{f.db_type(connection)}" for f in constant]
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in per_account)
    # Table, column and type names from the model's metadata; every value a parameter.
    table = quote(Execution._meta.db_table)
    sql = f"INSERT INTO {table} ({columns}) SELECT {', '.join(casts)}, new.* FROM unnest({arrays}) AS new ON CONFLICT DO NOTHING"  # noqa: S608
    with connection.cursor() as cursor:
        while chunk := list(islice(rows, CHUNK)):
            cursor.execute(sql, [*values, *(_array_literal(row[f.attname] for row in chunk) for f in per_account)])


def _create_executions(post: Post, plan: Plan, *, now: datetime, due_only: bool = False) -> None:
    _insert_executions(post, _new_rows(post, plan, now))
    for entry in plan.entries:
        if entry.execution_id is None or entry.unchanged or entry.status == "exists":
            continue
        # Blocked before. Conditional on still being blocked: of two runs, one plans it.
        still_blocked = Execution.objects.filter(pk=entry.execution_id, status=ExecutionStatus.BLOCKED)
        if entry.status == "planned":
            replanned = still_blocked.update(
                status=ExecutionStatus.PENDING,
                language=entry.language,
                caption=entry.caption,
                priority=post.priority,
                scheduled_for=entry.scheduled_for,
                next_attempt_at=None,
                attempts=0,
                error_code="",
                error_message="",
                finished_at=None,
                updated_at=now,
            )
            if not replanned:
                entry.status = "exists"
        else:
            # Counted in ``attempts`` while it is blocked; an operator's publish starts the count again.
            still_blocked.update(**_blocked_fields(entry, now), attempts=F("attempts") + 1 if due_only else 0, updated_at=now)
    ids = dict(Execution.objects.filter(post=post).values_list("account_id", "pk"))
    for entry in plan.entries:
        entry.execution_id = ids.get(uuid.UUID(entry.account_id), entry.execution_id)
    plan.dry_run = False
    waiting = any(e.status == "blocked" and e.retry_after is not None and not e.unchanged for e in plan.entries)
    if (plan.created or waiting) and post.status not in (PostStatus.PUBLISHING, PostStatus.SCHEDULED):
        post.status = PostStatus.SCHEDULED if post.scheduled_at and post.scheduled_at > now else PostStatus.PUBLISHING
        post.finished_at = None
    post.save(update_fields=["status", "priority", "scheduled_at", "finished_at", "updated_at"])
