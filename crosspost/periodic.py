"""Every periodic task, declared in one place; `manage.py setup_periodic_tasks`
writes them to django-celery-beat's DatabaseScheduler."""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    every_seconds: float
    queue: str = "high"
    description: str = ""


PERIODIC_TASKS: list[Periodic] = [
    Periodic(
        name="dispatch due executions",
        task="publishing.tasks.dispatch_due",
        every_seconds=settings.DISPATCH_EVERY_SECONDS,
        description="Claims executions due within DISPATCH_INTERVAL_SECONDS (at least until the next run) and "
        "enqueues them with their ETA.",
    ),
    Periodic(
        name="sweep expired leases",
        task="publishing.tasks.sweep_leases",
        every_seconds=settings.LEASE_SWEEP_INTERVAL_SECONDS,
        description="Re-dispatches lost queue messages; marks crashed publishes unconfirmed and reconciles them.",
    ),
    Periodic(
        name="re-plan blocked executions",
        task="publishing.tasks.replan_blocked",
        every_seconds=60,
        description="Plans again targets blocked for a temporary cause (a translation provider's rate limit) once it passes.",
    ),
    Periodic(
        name="make due repetitions",
        task="planning.tasks.make_due_repetitions",
        every_seconds=60,
        description="Recurring posts: each occurrence due within 10 minutes becomes one new post linked to its "
        "parent and is published at the occurrence; occurrences over an hour late are skipped.",
    ),
    Periodic(
        name="fill queues with evergreen posts",
        task="planning.tasks.fill_evergreen",
        every_seconds=3600,
        queue="low",
        description="Free queue slots of the next two days get a repetition of the evergreen post repeated least "
        "recently, to the accounts that have not had it within the workspace's minimum gap.",
    ),
    Periodic(
        name="poll sources",
        task="sources.tasks.poll_sources",
        every_seconds=settings.SOURCE_POLL_INTERVAL_SECONDS,
        queue="ingest",  # the pipeline's first stage; downloads never hold up the dispatcher on "high"
        description="getUpdates for every polling Telegram source; albums older than SOURCE_ALBUM_WINDOW_SECONDS "
        "become posts (webhook sources too).",
    ),
    Periodic(
        name="collect statistics",
        task="stats.tasks.collect_metrics",
        every_seconds=settings.STATS_INTERVAL_SECONDS,
        queue="low",
        description="Reads the statistics due 1 h, 6 h, 24 h, 3 d, 7 d and 30 d after publishing, in batches of "
        "STATS_BATCH_SIZE; a rate-limited account pauses until its retry_after.",
    ),
    Periodic(
        name="sync studio sources",
        task="studio.tasks.sync_due_sources",
        every_seconds=60,
        queue="ingest",
        description="Zoom, Yandex Disk and folder sources whose sync interval passed are listed; each new recording "
        "is imported once, gets its template and, when the template says so, its whole pipeline. Recordings that "
        "waited for a free job slot start.",
    ),
    Periodic(
        name="fail stalled studio jobs",
        task="studio.tasks.fail_stalled_jobs",
        every_seconds=300,
        queue="low",
        description="A studio job without progress for 15 minutes (its worker died) ends as failed; running the "
        "recording again resumes after its last finished step.",
    ),
    Periodic(
        name="poll watched sources",
        task="sources.tasks.poll_watched_sources",
        every_seconds=settings.SOURCE_WATCH_INTERVAL_SECONDS,
        queue="ingest",
        description="RSS/Atom, VK wall, YouTube and Instagram sources whose next poll is due (each at its own "
        "interval, with jitter and backoff); new items become posts once.",
    ),
    Periodic(
        name="retry webhooks",
        task="crosspost.tasks.retry_webhooks",
        every_seconds=60,
        queue="low",
        description="Webhook deliveries whose retry wait is over (or whose message or worker was lost) are sent again.",
    ),
    Periodic(
        name="purge idempotency keys",
        task="crosspost.tasks.purge_idempotency_keys",
        every_seconds=3600,
        queue="low",
        description="API Idempotency-Keys and their stored answers older than IDEMPOTENCY_KEY_TTL_HOURS are forgotten.",
    ),
    Periodic(
        name="heartbeat",
        task="crosspost.tasks.heartbeat",
        every_seconds=settings.HEARTBEAT_INTERVAL_SECONDS,
        description="Worker and beat liveness for /health/.",
    ),
    Periodic(
        name="lift expired cooldowns",
        task="accounts.tasks.lift_expired_cooldowns",
        every_seconds=60,
        description="Accounts whose cooldown_until has passed go back to active.",
    ),
    Periodic(
        name="check proxies",
        task="accounts.tasks.check_proxies",
        every_seconds=settings.PROXY_CHECK_INTERVAL_SECONDS,
        queue="low",
        description="Exit IP, latency and success rate of every proxy; a proxy that goes down is reported.",
    ),
    Periodic(
        name="check accounts",
        task="accounts.tasks.check_accounts",
        every_seconds=300,
        queue="low",
        description="Re-checks accounts not checked for ACCOUNT_CHECK_INTERVAL_SECONDS, in batches; recovers or flags them.",
    ),
    Periodic(
        name="clean up old sessions",
        task="publishing.tasks.cleanup_old_sessions",
        every_seconds=6 * 3600,
        queue="low",
        description="Instagram sessions older than INSTAGRAM_SESSION_LIFETIME_DAYS are replaced by a fresh login, "
        "or cleared (login_required when no password is stored); never while the account publishes.",
    ),
    Periodic(
        name="requeue stale renders",
        task="media.tasks.requeue_stale_renders",
        every_seconds=300,
        queue="media",
        description="Pending renditions nobody has worked on for 10 minutes are enqueued again.",
    ),
    Periodic(
        name="clean up old media",
        task="media.tasks.cleanup_media",
        every_seconds=3600,
        queue="low",
        description="Deletes media of posts finished over MEDIA_RETENTION_DAYS ago, never a file another post uses.",
    ),
]
