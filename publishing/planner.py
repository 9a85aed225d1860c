"""The planner: from a post and its targets to one execution per eligible account.

``post_publish`` expands target groups and accounts, gets each language's
caption, runs the adapters' ``validate()`` and the policy rules, schedules every
account with the pacing rules and bulk-creates the executions. It answers with
the plan — per account, when it will post or why it will not. The number of
queries does not depend on the number of accounts, and publishing twice never
creates a second execution for an account (the (post, account) constraint plus
``ignore_conflicts``).
"""

from __future__ import annotations

import dataclasses
import random
import uuid
import zoneinfo
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import AccountStatus, Platform, SocialAccount
from crosspost.activity import log_activity
from crosspost.models import LogStatus
from media.selectors import assets_of
from media.services import media_problems, planned_media_items, profiles_for, request_renditions, trim_allowed
from platforms.base import MediaItem, PublishRequest
from platforms.registry import get_adapter, has_adapter
from posts.models import Post, PostStatus, Priority
from posts.options import caption_overrides, check_stored_options, platform_post_options
from products.services import product_facts
from translations.services import CaptionResult, captions_for

from .adapters import account_snapshot
from .caption_templates import render_caption
from .models import OPEN_EXECUTION_STATUSES, Execution, ExecutionStatus, PublishingPolicy
from .pacing import DAY, AccountPacing, Pacing, schedule_post
from .rules import check_rules

# Accounts in these states get no execution; the plan says why.
INELIGIBLE_REASONS = {
    AccountStatus.LOGIN_REQUIRED: "The account needs a new login.",
    AccountStatus.PROXY_ERROR: "The account's proxy is failing: fix or replace it.",
    AccountStatus.NO_ACCESS: "The account lost the right to post there:",  # + the platform's words (status_reason)
    AccountStatus.BANNED: "The account is banned.",
    AccountStatus.DISABLED: "The account is disabled.",
}

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


@dataclass
class Plan:
    post_id: int
    dry_run: bool
    entries: list[PlanEntry]

    @property
    def created(self) -> int:
        return sum(1 for e in self.entries if e.status == "planned")

    def as_dict(self) -> dict:
        return {
            "post": self.post_id,
            "dry_run": self.dry_run,
            "planned": self.created,
            "existing": sum(1 for e in self.entries if e.status == "exists"),
            "blocked": sum(1 for e in self.entries if e.status == "blocked"),
            "accounts": [
                {**asdict(e), "scheduled_for": e.scheduled_for.isoformat() if e.scheduled_for else None} for e in self.entries
            ],
        }


def target_accounts(post: Post):
    """Every account the post targets, directly or through a group, once each."""
    return (
        SocialAccount.objects.filter(workspace_id=post.workspace_id)
        .filter(Q(pk__in=post.target_accounts.values("pk")) | Q(group__in=post.target_groups.values("pk")))
        .select_related("workspace", "proxy")
        .order_by("platform", "handle", "pk")
        .distinct()
    )


def busy_times(account_ids: list, now: datetime) -> dict[object, list[datetime]]:
    """Each account's posts that count for pacing: successful in the last 24 h and every open one."""
    rows = Execution.objects.filter(account_id__in=account_ids).filter(
        Q(status__in=OPEN_EXECUTION_STATUSES) | Q(status=ExecutionStatus.SUCCESS, finished_at__gte=now - DAY)
    )
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
) -> Plan:
    """Plan (and unless ``dry_run``, create) the executions of ``post``."""
    now = now or timezone.now()
    if priority is not None and priority not in Priority.values:
        raise ValidationError({"priority": f"Choose one of {', '.join(Priority.values)}."})
    check_stored_options(post)
    # Translation and product look-ups call the network: do them before any
    # transaction, so no lock (on SQLite: the database write lock) waits on them.
    texts = _captions(post)
    with transaction.atomic():
        if not dry_run:
            post = Post.objects.select_for_update().get(pk=post.pk)
        if post.status == PostStatus.CANCELLED:
            raise ValidationError("This post was cancelled; duplicate it to publish again.", code="conflict")
        if scheduled_at is not None:
            post.scheduled_at = scheduled_at
        if priority is not None:
            post.priority = priority
        media = _PlatformMedia(post)
        plan = _plan(post, now=now, seed=seed, texts=texts, media=media)
        if dry_run:
            return plan
        _create_executions(post, plan, now=now)
        media.request_renditions({e.platform for e in plan.entries if e.status == "planned"})
        log_activity(
            action="post.publish",
            post=post,
            actor=actor,
            status=LogStatus.SUCCESS if plan.created else LogStatus.INFO,
            message=f"Planned {plan.created} execution(s); {sum(1 for e in plan.entries if e.status == 'blocked')} blocked.",
            details={k: v for k, v in plan.as_dict().items() if k != "accounts"},
        )
    return plan


@dataclass
class _Texts:
    captions: dict[str, CaptionResult]
    product: dict | None


def _captions(post: Post) -> _Texts:
    """Each target language's caption (operator override, cache or provider) and the product facts."""
    languages = set(
        target_accounts(post)
        .exclude(pk__in=Execution.objects.filter(post=post).values("account_id"))
        .values_list("language", flat=True)
    )
    captions = captions_for(
        text=post.caption,
        source=post.language,
        targets=languages,
        workspace=post.workspace_id,
        overrides=caption_overrides(post),
        title=post.title,
    )
    return _Texts(captions=captions, product=product_facts((post.options or {}).get("product")))


def _plan(post: Post, *, now: datetime, seed: int | None, texts: _Texts, media: _PlatformMedia) -> Plan:
    accounts = list(target_accounts(post))
    if not accounts:
        raise ValidationError("The post has no target accounts: add target groups or accounts.", code="conflict")
    existing = {
        account_id: (pk, scheduled_for, caption)
        for account_id, pk, scheduled_for, caption in Execution.objects.filter(post=post).values_list(
            "account_id", "pk", "scheduled_for", "caption"
        )
    }
    saved_policies = {p.platform: p for p in PublishingPolicy.objects.filter(workspace_id=post.workspace_id)}
    rendered: dict[tuple[str, str], str] = {}  # (platform, language) → caption after the policy's template
    busy = busy_times([a.pk for a in accounts], now)
    start = max(now, post.scheduled_at) if post.scheduled_at else now
    workspace_tz = accounts[0].workspace.timezone

    entries: dict[object, PlanEntry] = {}
    to_schedule: list[tuple[AccountPacing, str]] = []
    pacing_for: dict[str, Pacing] = {}
    for account in accounts:
        entry = PlanEntry(
            account_id=str(account.pk),
            handle=account.handle,
            platform=account.platform,
            language=account.language,
            status="planned",
        )
        entries[account.pk] = entry
        if account.pk in existing:
            entry.execution_id, entry.scheduled_for, entry.caption = existing[account.pk]
            entry.status = "exists"
            continue
        caption = texts.captions.get(account.language) or CaptionResult(
            account.language, None, problem="The post's targets changed while it was being planned: publish again."
        )
        if caption.caption is not None:
            key = (account.platform, account.language)
            if key not in rendered:
                rendered[key] = render_caption(
                    saved_policies.get(account.platform), post, caption.caption, title=caption.title, product=texts.product
                )
            caption = dataclasses.replace(caption, caption=rendered[key])
        entry.caption = caption.caption or ""
        entry.problems = _problems(post, account, caption, media, saved_policies)
        if entry.problems:
            entry.status = "blocked"
            continue
        policy = policy_for(post.workspace_id, account.platform, saved_policies)
        pacing_for.setdefault(account.platform, Pacing.from_policy(policy))
        to_schedule.append(
            (
                AccountPacing(
                    key=account.pk,
                    busy=busy.get(account.pk, []),
                    limit_override=account.posts_limit_per_day,
                    warmup_started_at=account.warmup_started_at,
                    not_before=account.cooldown_until if account.status == AccountStatus.COOLDOWN else None,
                    tz=zoneinfo.ZoneInfo(account.timezone or workspace_tz),
                ),
                account.platform,
            )
        )
    rng = random.Random(seed if seed is not None else post.pk)
    for key, at in schedule_post(pacing_for, to_schedule, start, rng).items():
        entries[key].scheduled_for = at
    return Plan(post_id=post.pk, dry_run=True, entries=list(entries.values()))


class _PlatformMedia:
    """The post's media as each platform will get it (its renditions), computed once per platform."""

    def __init__(self, post: Post) -> None:
        self.post = post
        self.assets = assets_of(post)
        self._items: dict[str, tuple[MediaItem, ...]] = {}
        self._problems: dict[str, list[str]] = {}

    def allow_trim(self, platform: str) -> bool:
        return trim_allowed(self.post.options, platform)

    def items(self, platform: str) -> tuple[MediaItem, ...]:
        if platform not in self._items:
            self._items[platform] = planned_media_items(assets=self.assets, platform=platform, media_type=self.post.media_type)
        return self._items[platform]

    def problems(self, platform: str) -> list[str]:
        if platform not in self._problems:
            self._problems[platform] = media_problems(
                assets=self.assets,
                platform=platform,
                media_type=self.post.media_type,
                allow_trim=self.allow_trim(platform),
            )
        return self._problems[platform]

    def request_renditions(self, platforms: set[str]) -> None:
        """Ask for exactly the renditions the planned platforms need (rendered after commit)."""
        for platform in sorted(platforms):
            request_renditions(
                assets=self.assets,
                profiles=profiles_for(platform, self.post.media_type),
                allow_trim=self.allow_trim(platform),
            )


def _problems(post: Post, account: SocialAccount, caption, media: _PlatformMedia, saved_policies) -> list[str]:
    if account.status in INELIGIBLE_REASONS:
        if account.status == AccountStatus.NO_ACCESS:
            return [f"{INELIGIBLE_REASONS[account.status]} {account.status_reason.strip() or 'a check will tell.'}"]
        return [INELIGIBLE_REASONS[account.status]]
    if not has_adapter(account.platform):
        return [f"Publishing to {account.get_platform_display()} is not available yet in this installation."]
    if caption.caption is None:
        return [caption.problem]
    adapter = get_adapter(account.platform)
    request = PublishRequest(
        account=account_snapshot(account),
        caption=caption.caption,
        media_type=post.media_type,
        media=media.items(account.platform),
        options=platform_post_options(post, account.platform),  # checked once, in post_publish
    )
    problems = media.problems(account.platform) + [p.message for p in adapter.validate(request)]
    policy = saved_policies.get(account.platform)
    problems += [p.message for p in check_rules(policy, caption.caption)]
    return problems


def _create_executions(post: Post, plan: Plan, *, now: datetime) -> None:
    new = [
        Execution(
            workspace_id=post.workspace_id,
            post_id=post.pk,
            account_id=entry.account_id,
            language=entry.language,
            caption=entry.caption,
            priority=post.priority,
            scheduled_for=entry.scheduled_for,
            status=ExecutionStatus.PENDING,
        )
        for entry in plan.entries
        if entry.status == "planned"
    ]
    # One statement on PostgreSQL whatever the count; SQLite splits it at its 999-parameter limit.
    Execution.objects.bulk_create(new, ignore_conflicts=True)
    ids = dict(Execution.objects.filter(post=post).values_list("account_id", "pk"))
    for entry in plan.entries:
        entry.execution_id = ids.get(uuid.UUID(entry.account_id), entry.execution_id)
    plan.dry_run = False
    if ids and post.status not in (PostStatus.PUBLISHING, PostStatus.SCHEDULED):
        post.status = PostStatus.SCHEDULED if post.scheduled_at and post.scheduled_at > now else PostStatus.PUBLISHING
        post.finished_at = None
    post.save(update_fields=["status", "priority", "scheduled_at", "finished_at", "updated_at"])
