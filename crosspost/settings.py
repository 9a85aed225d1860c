"""Crosspost settings.

Every service has an embedded default so a fresh machine needs only Python:
SQLite, local files, a filesystem Celery broker and the sandbox platform. The
environment variables documented in README.md switch each one to its real
counterpart (PostgreSQL, Redis, S3). Secrets may be given as ``NAME_FILE``.
"""

from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; a missing file is fine


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read ``NAME`` or the contents of the file named by ``NAME_FILE``."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {exc}") from exc
    return env.str(name, default=default)


DEBUG = env.bool("DEBUG", default=True)
VAR_DIR = Path(env.str("CROSSPOST_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _dev_secret(filename: str, generate) -> str:
    """A per-checkout secret for development, created once and kept in var/."""
    path = VAR_DIR / filename
    if not path.exists():
        path.write_text(generate())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off.")
    from django.core.management.utils import get_random_secret_key

    SECRET_KEY = _dev_secret("secret-key.txt", get_random_secret_key)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_simplejwt",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "axes",
    "template_partials",
    "crosspost",
    "accounts",
    "media",
    "posts",
    "publishing",
    "sources",
    "stats",
    "translations",
    "products",
    "campaigns",
    "studio",
    "planning",
    "dashboard",
    "bot",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.MemberTimezoneMiddleware",
    # API writes with an Idempotency-Key header run once; a repeat gets the stored answer.
    "crosspost.idempotency.IdempotencyMiddleware",
    # Last, so it turns a login refused by the lockout into a 429 page (see crosspost/security.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crosspost.urls"
WSGI_APPLICATION = "crosspost.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# SQLite by default (WAL + busy timeout so the web, worker and beat processes
# can share one file); DATABASE_URL=postgres://… switches to PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'crosspost.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # The test database's name (default test_<name>): the test and bench scripts give each run its
    # own, so two runs on one server never drop each other's database.
    if env.str("TEST_DATABASE_NAME", default=""):
        DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME")}
# The publishing engine's hot statements are prepared on the PostgreSQL server (crosspost/prepared.py).
# Off (0) behind a PgBouncer in transaction mode older than 1.21, which cannot keep prepared statements.
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The lockout backend comes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = ["crosspost.security.LockoutBackend", "django.contrib.auth.backends.ModelBackend"]

# --- Brute-force protection (django-axes; crosspost/security.py) ------------------------
# Failures are counted per (username, client IP): another user, or the same user from
# another client, is never locked out by someone else's failures.
AXES_ENABLED = env.bool("LOGIN_LOCKOUT_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "crosspost.security.lockout_response"
AXES_VERBOSE = False
# Behind TRUSTED_PROXY_COUNT reverse proxies the client address is taken from X-Forwarded-For,
# the same way for the lockout and the API throttles.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "crosspost.security.client_ip"
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured(f"LOGIN_FAILURE_LIMIT must be at least 1, not {AXES_FAILURE_LIMIT}.")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Time and language ----------------------------------------------------------
# Everything is stored in UTC; each workspace and member has a time zone that
# MemberTimezoneMiddleware activates for input and display.
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = True
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# One date format per language, 24-hour, for every page and the admin (crosspost/formats/).
FORMAT_MODULE_PATH = ["crosspost.formats"]

# --- Static and media files -------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_URL = "files/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "files")))
MAX_UPLOAD_SIZE_MB = env.int("MAX_UPLOAD_SIZE_MB", default=512)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Media pipeline (media/): probing, renditions, cleanup ---------------------------------
# ffmpeg: this binary, else `ffmpeg` on PATH, else the one in the imageio-ffmpeg wheel.
FFMPEG_BINARY = env.str("FFMPEG_BINARY", default="")
MEDIA_MAX_IMAGE_PIXELS = env.int("MEDIA_MAX_IMAGE_PIXELS", default=60_000_000)
MEDIA_MAX_VIDEO_PIXELS = env.int("MEDIA_MAX_VIDEO_PIXELS", default=8192 * 4320)
# A crop that would drop more than this share of the picture pads on a blurred copy instead.
MEDIA_MAX_CROP_LOSS = env.float("MEDIA_MAX_CROP_LOSS", default=0.4)
MEDIA_X264_PRESET = env.str("MEDIA_X264_PRESET", default="veryfast")
MEDIA_X264_CRF = env.int("MEDIA_X264_CRF", default=21)
MEDIA_RENDER_TIME_LIMIT_SECONDS = env.int("MEDIA_RENDER_TIME_LIMIT_SECONDS", default=1800)
# Originals and renditions of posts finished longer ago than this are deleted.
MEDIA_RETENTION_DAYS = env.int("MEDIA_RETENTION_DAYS", default=30)
if not 0 <= MEDIA_MAX_CROP_LOSS < 1:
    raise ImproperlyConfigured(f"MEDIA_MAX_CROP_LOSS must be in [0, 1), not {MEDIA_MAX_CROP_LOSS}.")

S3_BUCKET = env.str("S3_BUCKET", default="")
if S3_BUCKET:
    _s3_options = {
        "bucket_name": S3_BUCKET,
        "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
        "access_key": env_secret("S3_ACCESS_KEY", default="") or None,
        "secret_key": env_secret("S3_SECRET_KEY", default="") or None,
        "region_name": env.str("S3_REGION", default="") or None,
        "addressing_style": env.str("S3_ADDRESSING_STYLE", default="path"),
        "querystring_expire": env.int("S3_PRESIGN_SECONDS", default=3600),
        # Presigned URLs handed to platforms: SigV4 (SigV2 is refused by newer AWS regions).
        "signature_version": env.str("S3_SIGNATURE_VERSION", default="s3v4"),
        "file_overwrite": False,
    }
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _s3_options}
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Encryption at rest -------------------------------------------------------------
# FIELD_ENCRYPTION_KEYS: comma-separated Fernet keys; the first encrypts, all
# decrypt. Rotate by putting a new key first and running rotate_encryption_keys.
_keys = env_secret("FIELD_ENCRYPTION_KEYS", default="")
if not _keys:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS (or FIELD_ENCRYPTION_KEYS_FILE) must be set when DEBUG is off. "
            'Generate one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
        )
    _keys = _dev_secret("field-encryption-key.txt", lambda: Fernet.generate_key().decode())
FIELD_ENCRYPTION_KEYS = [k.strip() for k in _keys.split(",") if k.strip()]
# django-encrypted-model-fields reads this name.
FIELD_ENCRYPTION_KEY = FIELD_ENCRYPTION_KEYS

# The overview's window index carries extra columns on PostgreSQL (publishing.Execution's
# execution_ws_recent_cover: INCLUDE scheduled_for, account) so its counts read the index alone;
# SQLite builds the same index without them, which is all the embedded set-up needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# --- Celery -------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost/")
if CELERY_BROKER_URL.rstrip("/") == "filesystem:":
    # kombu warns "No hostname was supplied" on every connection without one (it is unused here).
    CELERY_BROKER_URL = "filesystem://localhost/"
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker: one folder shared by every process on this machine.
    (BROKER_DIR / "queue").mkdir(parents=True, exist_ok=True)
    (BROKER_DIR / "processed").mkdir(parents=True, exist_ok=True)
    (BROKER_DIR / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # kombu's default is ./control in the working directory: it belongs under var/, not in the checkout.
        "control_folder": str(BROKER_DIR / "control"),
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # kombu looks for new files once a second by default, and a busy worker then takes about one
        # message a second: a channel post took minutes to go out (tests/bench/bench_ingest.py).
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_DEFAULT_QUEUE = "normal"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fix-up closes every database connection before and after each task unless this
# is set: a new PostgreSQL connection — a server process forked and authenticated — per publish
# (tests/bench/bench_engine.py: about a third of the database server's CPU). Connections are kept;
# crosspost/celery.py closes a broken one, or one older than CONN_MAX_AGE, before each task, as
# Django does before each request.
CELERY_DB_REUSE_MAX = 1_000_000
# Task modules outside an app's tasks.py (autodiscover finds only those).
CELERY_IMPORTS = ["publishing.notification_tasks", "publishing.pipeline_tasks"]

# --- Cache ----------------------------------------------------------------------------
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "accounts.api_base.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "crosspost.schema.AutoSchema",
    # 429 with Retry-After past these rates; "auth" is the token endpoints, per client address.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,  # 0: REMOTE_ADDR only, so a client cannot pick its own X-Forwarded-For
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="6000/min"),
        "auth": env.str("API_THROTTLE_AUTH", default="20/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Crosspost API",
    "DESCRIPTION": "Compose once, publish to many social accounts — accounts, groups, proxies, media, posts and executions.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Bodies are documented as JSON (media uploads as multipart): a form cannot spell null, an
    # object or an empty list the way the schemas say. Forms are still parsed, for the browsable API.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # 400/401/403/404/409/429 with one error body on every operation (crosspost/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crosspost.schema.document_error_responses",
        "crosspost.schema.document_idempotency_key",
    ],
    # Swagger UI assets are served from static/, so /api/docs/ works on a closed network.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name per choice set that several fields share (drf-spectacular warns otherwise).
    "ENUM_NAME_OVERRIDES": {
        "ModeEnum": "sources.models.IngestMode",  # a source's mode and a studio preset's: draft / publish
        "RecordingStepEnum": "studio.models.Step",  # a recording's finished and last step
        "WebhookEventEnum": "crosspost.models.WebhookEvent",  # a delivery's event (the test event included)
        "WebhookSubscribableEventEnum": "crosspost.webhooks.SUBSCRIBABLE_EVENTS",  # what an endpoint may subscribe to
    },
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "SIGNING_KEY": SECRET_KEY,
}

LOGIN_URL = "/admin/login/"

# --- Platforms and integrations (defaults: the real public hosts) --------------------
TELEGRAM_API_BASE_URL = env.str("TELEGRAM_API_BASE_URL", default="https://api.telegram.org")
# A local Bot API server (telegram-bot-api --local) answers getFile with a path on its disk: its --dir,
# mounted here at the same path, is where ingest reads those files (no 20 MB limit then).
TELEGRAM_LOCAL_FILES_DIR = env.str("TELEGRAM_LOCAL_FILES_DIR", default="")
# Sources (sources/): album parts arriving within this many seconds of the last one make one post;
# polling sources are read (getUpdates) every SOURCE_POLL_INTERVAL_SECONDS by the beat.
SOURCE_ALBUM_WINDOW_SECONDS = env.float("SOURCE_ALBUM_WINDOW_SECONDS", default=3.0)
SOURCE_POLL_INTERVAL_SECONDS = env.float("SOURCE_POLL_INTERVAL_SECONDS", default=5.0)

# Statistics (stats/): every STATS_INTERVAL_SECONDS the beat reads the snapshots due, STATS_BATCH_SIZE
# executions per batch, at most STATS_MAX_BATCHES per run; one account's calls at least
# STATS_ACCOUNT_INTERVAL_SECONDS apart (a platform's rate limit pauses that account by itself).
STATS_INTERVAL_SECONDS = env.float("STATS_INTERVAL_SECONDS", default=300.0)
STATS_BATCH_SIZE = env.int("STATS_BATCH_SIZE", default=200)
STATS_MAX_BATCHES = env.int("STATS_MAX_BATCHES", default=50)
STATS_ACCOUNT_INTERVAL_SECONDS = env.float("STATS_ACCOUNT_INTERVAL_SECONDS", default=1.0)
# An account whose platform refused it (login, challenge, ban) is not read again for this long.
STATS_ACCOUNT_ERROR_PAUSE_SECONDS = env.int("STATS_ACCOUNT_ERROR_PAUSE_SECONDS", default=6 * 3600)
# A message whose post could not be made this many times (a file Telegram keeps failing to serve)
# is recorded as failed, with the last error, so it no longer holds up the source.
SOURCE_INGEST_MAX_ATTEMPTS = env.int("SOURCE_INGEST_MAX_ATTEMPTS", default=5)
# Watched sources (RSS, VK wall, YouTube, Instagram) are polled by the beat every
# SOURCE_WATCH_INTERVAL_SECONDS for those due (each at its own poll_interval_s); a source whose
# polls failed SOURCE_FAILING_AFTER times in a row is marked failing and reported once.
SOURCE_WATCH_INTERVAL_SECONDS = env.float("SOURCE_WATCH_INTERVAL_SECONDS", default=30.0)
SOURCE_FAILING_AFTER = env.int("SOURCE_FAILING_AFTER", default=5)
SOURCE_FETCH_LIMIT = env.int("SOURCE_FETCH_LIMIT", default=50)
# The pipeline's transcode stage looks at a source post's renditions after 1, 2, 4 and 8 s, then
# every this many seconds, and gives up (a failed stage the operator can retry) when they are not
# ready after the maximum wait.
PIPELINE_TRANSCODE_CHECK_SECONDS = env.int("PIPELINE_TRANSCODE_CHECK_SECONDS", default=15)
PIPELINE_TRANSCODE_MAX_WAIT_SECONDS = env.int("PIPELINE_TRANSCODE_MAX_WAIT_SECONDS", default=1800)
VK_API_BASE_URL = env.str("VK_API_BASE_URL", default="https://api.vk.com/method")
INSTAGRAM_GRAPH_BASE_URL = env.str("INSTAGRAM_GRAPH_BASE_URL", default="https://graph.facebook.com/v21.0")
TIKTOK_API_BASE_URL = env.str("TIKTOK_API_BASE_URL", default="https://open.tiktokapis.com")
YOUTUBE_API_BASE_URL = env.str("YOUTUBE_API_BASE_URL", default="https://www.googleapis.com")
PINTEREST_API_BASE_URL = env.str("PINTEREST_API_BASE_URL", default="https://api.pinterest.com/v5")
GOOGLE_OAUTH_TOKEN_URL = env.str("GOOGLE_OAUTH_TOKEN_URL", default="https://oauth2.googleapis.com/token")
TIKTOK_OAUTH_TOKEN_URL = env.str("TIKTOK_OAUTH_TOKEN_URL", default="")  # empty: TIKTOK_API_BASE_URL + /v2/oauth/token/
# instagrapi's pause before each private API request (it imitates a person; 0 in tests).
INSTAGRAM_PRIVATE_REQUEST_DELAY_SECONDS = env.float("INSTAGRAM_PRIVATE_REQUEST_DELAY_SECONDS", default=1.0)
# An Instagram private-API session older than this is replaced by a fresh login (or cleared).
INSTAGRAM_SESSION_LIFETIME_DAYS = env.int("INSTAGRAM_SESSION_LIFETIME_DAYS", default=90)
if INSTAGRAM_SESSION_LIFETIME_DAYS < 1:
    raise ImproperlyConfigured(
        f"INSTAGRAM_SESSION_LIFETIME_DAYS ({INSTAGRAM_SESSION_LIFETIME_DAYS}) must be at least 1 day (default 90)."
    )
YOUTUBE_UPLOAD_CHUNK_BYTES = env.int("YOUTUBE_UPLOAD_CHUNK_BYTES", default=8 * 1024 * 1024)
DEEPL_SERVER_URL = env.str("DEEPL_SERVER_URL", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="https://api.openai.com/v1")
DEEPL_API_KEY = env_secret("DEEPL_API_KEY", default="")
OPENAI_API_KEY = env_secret("OPENAI_API_KEY", default="")
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4o-mini")
# Translation calls run while an operator waits for a plan: a few quick retries,
# then a "try again in N s" problem instead of blocking the request.
TRANSLATION_MAX_RETRIES = env.int("TRANSLATION_MAX_RETRIES", default=1)
TRANSLATION_TIMEOUT_SECONDS = env.float("TRANSLATION_TIMEOUT_SECONDS", default=30.0)
TRANSLATION_RETRY_AFTER_SECONDS = env.int("TRANSLATION_RETRY_AFTER_SECONDS", default=60)
DEEPL_LANGUAGES_CACHE_SECONDS = env.int("DEEPL_LANGUAGES_CACHE_SECONDS", default=86400)
WB_CARD_BASE_URL = env.str("WB_CARD_BASE_URL", default="https://card.wb.ru")
WB_TIMEOUT_SECONDS = env.float("WB_TIMEOUT_SECONDS", default=5.0)
OZON_BASE_URL = env.str("OZON_BASE_URL", default="https://www.ozon.ru")
OZON_TIMEOUT_SECONDS = env.float("OZON_TIMEOUT_SECONDS", default=5.0)
YANDEX_MARKET_BASE_URL = env.str("YANDEX_MARKET_BASE_URL", default="https://market.yandex.ru")
YANDEX_MARKET_TIMEOUT_SECONDS = env.float("YANDEX_MARKET_TIMEOUT_SECONDS", default=5.0)
# Product facts stay fresh this long; a refusing marketplace is asked again after its
# Retry-After, or this many minutes when it sends none. Tags without a marketplace mean the default.
PRODUCT_CACHE_HOURS = env.float("PRODUCT_CACHE_HOURS", default=24.0)
PRODUCT_RETRY_MINUTES = env.float("PRODUCT_RETRY_MINUTES", default=10.0)
PRODUCT_DEFAULT_MARKETPLACE = env.str("PRODUCT_DEFAULT_MARKETPLACE", default="wildberries")
TELEGRAM_ADMIN_BOT_TOKEN = env_secret("TELEGRAM_ADMIN_BOT_TOKEN", default="")
TELEGRAM_ADMIN_CHAT_ID = env.str("TELEGRAM_ADMIN_CHAT_ID", default="")
# The operators' bot (bot/, `manage.py runbot`): made with @BotFather; unset = no bot process.
TELEGRAM_BOT_TOKEN = env_secret("TELEGRAM_BOT_TOKEN", default="")
# Its @username for the dashboard's t.me/<username>?start=<code> link (asked with getMe when empty).
TELEGRAM_BOT_USERNAME = env.str("TELEGRAM_BOT_USERNAME", default="")
# Webhook mode: Telegram posts updates to this public HTTPS URL, proved by the secret token header;
# the bot listens on BOT_WEBHOOK_LISTEN (host:port) behind your TLS proxy. Empty = long polling.
BOT_WEBHOOK_URL = env.str("BOT_WEBHOOK_URL", default="")
BOT_WEBHOOK_SECRET = env_secret("BOT_WEBHOOK_SECRET", default="")
BOT_WEBHOOK_LISTEN = env.str("BOT_WEBHOOK_LISTEN", default="127.0.0.1:8081")
# Actions one member may take per minute; more get one warning and no work.
BOT_RATE_LIMIT_PER_MINUTE = env.int("BOT_RATE_LIMIT_PER_MINUTE", default=30)
# Ad campaigns: Wordstat answers are reused this long; calls stay under WORDSTAT_RPS across all workers.
WORDSTAT_BASE_URL = env.str("WORDSTAT_BASE_URL", default="https://api.wordstat.yandex.net")
WORDSTAT_CACHE_DAYS = env.float("WORDSTAT_CACHE_DAYS", default=7.0)
WORDSTAT_RPS = env.float("WORDSTAT_RPS", default=10.0)
WORDSTAT_TIMEOUT_SECONDS = env.float("WORDSTAT_TIMEOUT_SECONDS", default=30.0)
# Google Sheets/Drive and the service account's token endpoint (a loopback server in tests).
GOOGLE_SHEETS_BASE_URL = env.str("GOOGLE_SHEETS_BASE_URL", default="https://sheets.googleapis.com")
GOOGLE_DRIVE_BASE_URL = env.str("GOOGLE_DRIVE_BASE_URL", default="https://www.googleapis.com")
# Writing ads: a rate-limited or failing LLM is tried CAMPAIGN_AI_RETRIES more times, waiting its
# retry-after (or CAMPAIGN_AI_BACKOFF_SECONDS doubling), at most 30 × the backoff each time.
CAMPAIGN_AI_RETRIES = env.int("CAMPAIGN_AI_RETRIES", default=3)
CAMPAIGN_AI_BACKOFF_SECONDS = env.float("CAMPAIGN_AI_BACKOFF_SECONDS", default=2.0)
GOOGLE_SHEETS_TIMEOUT_SECONDS = env.float("GOOGLE_SHEETS_TIMEOUT_SECONDS", default=30.0)
# A link code from the dashboard is good this long, once.
BOT_LINK_CODE_MINUTES = env.int("BOT_LINK_CODE_MINUTES", default=10)
# A progress message is edited at most once per this many seconds (Telegram's edit limits).
BOT_PROGRESS_EDIT_SECONDS = env.float("BOT_PROGRESS_EDIT_SECONDS", default=3.0)
# How often the running bot writes its heartbeat (/health/ judges it stale after HEARTBEAT_STALE_SECONDS).
BOT_HEARTBEAT_SECONDS = env.float("BOT_HEARTBEAT_SECONDS", default=30.0)
PUBLIC_MEDIA_BASE_URL = env.str("PUBLIC_MEDIA_BASE_URL", default="")
# --- Outgoing webhooks and Idempotency-Key (crosspost/webhooks.py, crosspost/idempotency.py) ---------
# A webhook URL that resolves to a loopback/private address is refused (SSRF) unless this (or DEBUG) is on.
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=False)
# One delivery attempt waits this long for the receiver's answer (connect and read).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Waits between attempts; after the last one the delivery is failed (7 attempts in all by default).
WEBHOOK_RETRY_SECONDS = [
    int(seconds) for seconds in env.list("WEBHOOK_RETRY_SECONDS", default=["60", "300", "1800", "7200", "21600", "43200"])
]
# A receiver's Retry-After is honoured up to this many seconds.
WEBHOOK_MAX_RETRY_AFTER_SECONDS = env.int("WEBHOOK_MAX_RETRY_AFTER_SECONDS", default=12 * 3600)
# An API write's Idempotency-Key and its stored answer are kept this long.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
# A request still marked running after this long died with its process: its key may be used again.
IDEMPOTENCY_STALE_SECONDS = env.int("IDEMPOTENCY_STALE_SECONDS", default=600)
# --- Video studio -------------------------------------------------------------------
# Input sources' APIs (loopback emulators in tests).
ZOOM_API_BASE_URL = env.str("ZOOM_API_BASE_URL", default="https://api.zoom.us/v2")
ZOOM_OAUTH_URL = env.str("ZOOM_OAUTH_URL", default="https://zoom.us/oauth/token")
YANDEX_DISK_API_BASE_URL = env.str("YANDEX_DISK_API_BASE_URL", default="https://cloud-api.yandex.net/v1/disk")
STUDIO_HTTP_TIMEOUT_SECONDS = env.float("STUDIO_HTTP_TIMEOUT_SECONDS", default=60.0)
# Folder sources may only read below these directories (comma-separated; default var/studio-inbox).
STUDIO_FOLDER_ROOTS = env.list("STUDIO_FOLDER_ROOTS", default=[]) or [str(VAR_DIR / "studio-inbox")]
# A recording fetched by URL may be at most this large.
STUDIO_URL_MAX_BYTES = env.int("STUDIO_URL_MAX_BYTES", default=20 * 1024**3)
# Fetching by URL refuses hosts that resolve to loopback/private addresses (SSRF) unless this (or DEBUG) is on.
STUDIO_URL_ALLOW_PRIVATE = env.bool("STUDIO_URL_ALLOW_PRIVATE", default=False)
# A workspace without its own quota row gets these.
STUDIO_STORAGE_GB = env.float("STUDIO_STORAGE_GB", default=50.0)
STUDIO_RECORDINGS_PER_MONTH = env.int("STUDIO_RECORDINGS_PER_MONTH", default=500)
STUDIO_CONCURRENT_JOBS = env.int("STUDIO_CONCURRENT_JOBS", default=2)
# Transcription: an OpenAI-compatible /audio/transcriptions API (OpenAI, Fireworks, a faster-whisper
# server) or, when TRANSCRIPTION_MODEL_DIR names a faster-whisper model directory, the local engine
# (the model is never downloaded). Long audio goes in chunks with an overlap, several in flight.
TRANSCRIPTION_BASE_URL = env.str("TRANSCRIPTION_BASE_URL", default="") or OPENAI_BASE_URL
TRANSCRIPTION_API_KEY = env_secret("TRANSCRIPTION_API_KEY", default="") or OPENAI_API_KEY
TRANSCRIPTION_MODEL = env.str("TRANSCRIPTION_MODEL", default="whisper-1")
TRANSCRIPTION_MODEL_DIR = env.str("TRANSCRIPTION_MODEL_DIR", default="")
TRANSCRIPTION_CHUNK_SECONDS = env.float("TRANSCRIPTION_CHUNK_SECONDS", default=600.0)
TRANSCRIPTION_OVERLAP_SECONDS = env.float("TRANSCRIPTION_OVERLAP_SECONDS", default=5.0)
TRANSCRIPTION_CONCURRENCY = env.int("TRANSCRIPTION_CONCURRENCY", default=4)
TRANSCRIPTION_TIMEOUT_SECONDS = env.float("TRANSCRIPTION_TIMEOUT_SECONDS", default=300.0)
# Proxy health: the check URL answers the exit IP as JSON {"ip": …} or plain text.
PROXY_CHECK_URL = env.str("PROXY_CHECK_URL", default="https://api.ipify.org?format=json")
PROXY_CHECK_TIMEOUT_SECONDS = env.float("PROXY_CHECK_TIMEOUT_SECONDS", default=10.0)
PROXY_CHECK_INTERVAL_SECONDS = env.float("PROXY_CHECK_INTERVAL_SECONDS", default=600.0)
PROXY_EWMA_ALPHA = env.float("PROXY_EWMA_ALPHA", default=0.3)  # success_rate = a·outcome + (1 − a)·success_rate
# Account health: each active / proxy_error / login_required account is re-checked this often.
ACCOUNT_CHECK_INTERVAL_SECONDS = env.int("ACCOUNT_CHECK_INTERVAL_SECONDS", default=6 * 3600)
ACCOUNT_CHECK_BATCH = env.int("ACCOUNT_CHECK_BATCH", default=50)
if not 0 < PROXY_EWMA_ALPHA <= 1:
    raise ImproperlyConfigured(f"PROXY_EWMA_ALPHA must be in (0, 1], not {PROXY_EWMA_ALPHA}.")

# --- Publishing defaults ---------------------------------------------------------------
# Executions queued or posting at once. Queued ones wait in the broker (with their ETA), so with the
# dispatcher running every second this is also the most it hands out per second. 500: two worker
# processes publish 300-480 a second to loopback platforms (tests/bench/bench_engine.py; 200 held
# them to about 200), and 500 queued still go out well within their QUEUED_LEASE_SECONDS (600) at
# one publish a second to a slow real platform.
MAX_CONCURRENT_PUBLISHES = env.int("MAX_CONCURRENT_PUBLISHES", default=500)
PUBLISH_MAX_ATTEMPTS = env.int("PUBLISH_MAX_ATTEMPTS", default=4)
# Executions already due go to the workers this many per message (publishing/dispatcher.py); a batch
# that has run PUBLISH_BATCH_BUDGET_SECONDS hands the rest to a new message (publishing/tasks.py).
PUBLISH_BATCH_SIZE = env.int("PUBLISH_BATCH_SIZE", default=10)
DISPATCH_INTERVAL_SECONDS = env.float("DISPATCH_INTERVAL_SECONDS", default=5.0)
# How often beat runs the dispatcher (crosspost/periodic.py). Each run claims what is due within
# DISPATCH_INTERVAL_SECONDS and enqueues it with its ETA; running it more often than that makes the
# claims overlap, so an execution due just past one run's horizon is already in the worker's hands
# (with its ETA) when its time comes, instead of waiting for the next run to start, claim and
# enqueue it. On the embedded filesystem broker (`make run`) that wait was the lateness: each run
# starts a few tenths of a second after the last one's horizon (beat, the broker's polling, the run
# itself on SQLite), and the 50-in-flight cap, refilled once per 5 s run, let through 10 a second
# at most — 7.8 s median lateness at 17 a second (tests/bench/bench_embedded_lateness.py). Running it
# every second (claiming 5 s ahead) keeps p95 lateness at a few ms. On Redis the same cap, refilled
# once per 5 s, held the engine to 10 executions a second: every broker runs it every second.
DISPATCH_EVERY_SECONDS = env.float("DISPATCH_EVERY_SECONDS", default=min(1.0, DISPATCH_INTERVAL_SECONDS))
if not 0 < DISPATCH_EVERY_SECONDS <= DISPATCH_INTERVAL_SECONDS:
    # Runs further apart than what each one claims ahead would leave executions unclaimed between them.
    raise ImproperlyConfigured(
        f"DISPATCH_EVERY_SECONDS ({DISPATCH_EVERY_SECONDS}) must be above 0 and at most DISPATCH_INTERVAL_SECONDS "
        f"({DISPATCH_INTERVAL_SECONDS}), how far ahead each dispatcher run claims."
    )
HTTP_TIMEOUT_SECONDS = env.float("HTTP_TIMEOUT_SECONDS", default=30.0)
# One publish may run this long (hard limit; the soft one leaves it time to record its outcome).
PUBLISH_TIME_LIMIT_SECONDS = env.int("PUBLISH_TIME_LIMIT_SECONDS", default=CELERY_TASK_TIME_LIMIT)
PUBLISH_SOFT_TIME_LIMIT_SECONDS = max(1, PUBLISH_TIME_LIMIT_SECONDS - min(60, PUBLISH_TIME_LIMIT_SECONDS // 2))
PUBLISH_BATCH_BUDGET_SECONDS = env.float("PUBLISH_BATCH_BUDGET_SECONDS", default=min(20.0, PUBLISH_SOFT_TIME_LIMIT_SECONDS / 2))
if not 0 <= PUBLISH_BATCH_BUDGET_SECONDS <= PUBLISH_SOFT_TIME_LIMIT_SECONDS / 2:
    # A batch starts no publish after its budget: each then still has at least half the time limit.
    raise ImproperlyConfigured(
        f"PUBLISH_BATCH_BUDGET_SECONDS ({PUBLISH_BATCH_BUDGET_SECONDS}) must be between 0 and half the publish "
        f"task's soft time limit ({PUBLISH_SOFT_TIME_LIMIT_SECONDS} s)."
    )
# A publish lease outlives the task's hard time limit, so only a dead worker lets it expire.
PUBLISH_LEASE_SECONDS = env.int("PUBLISH_LEASE_SECONDS", default=PUBLISH_TIME_LIMIT_SECONDS + 30)
if PUBLISH_LEASE_SECONDS <= PUBLISH_TIME_LIMIT_SECONDS:
    # A lease that can run out while a live worker is still publishing lets the sweeper
    # treat that execution as crashed and publish it a second time.
    raise ImproperlyConfigured(
        f"PUBLISH_LEASE_SECONDS ({PUBLISH_LEASE_SECONDS}) must be longer than the publish task's hard time limit "
        f"(PUBLISH_TIME_LIMIT_SECONDS, {PUBLISH_TIME_LIMIT_SECONDS} s); use at least {PUBLISH_TIME_LIMIT_SECONDS + 30}."
    )
# How long a claimed execution may wait in the broker before the sweeper re-dispatches it.
QUEUED_LEASE_SECONDS = env.int("QUEUED_LEASE_SECONDS", default=600)
LEASE_SWEEP_INTERVAL_SECONDS = env.float("LEASE_SWEEP_INTERVAL_SECONDS", default=30.0)
HEARTBEAT_INTERVAL_SECONDS = env.float("HEARTBEAT_INTERVAL_SECONDS", default=15.0)
HEARTBEAT_STALE_SECONDS = env.float("HEARTBEAT_STALE_SECONDS", default=90.0)
# Each worker sends itself a probe through the broker this often; one that has consumed none for
# WORKER_STALE_SECONDS exits to be restarted (crosspost/liveness.py; 0 turns the watchdog off).
WORKER_PROBE_INTERVAL_SECONDS = env.float("WORKER_PROBE_INTERVAL_SECONDS", default=10.0)
WORKER_STALE_SECONDS = env.float("WORKER_STALE_SECONDS", default=60.0)

# --- Observability -----------------------------------------------------------------------
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(dsn=SENTRY_DSN, send_default_pii=False, traces_sample_rate=env.float("SENTRY_TRACES", default=0.0))

# /metrics (Prometheus): open when empty, else requires "Authorization: Bearer <token>".
METRICS_TOKEN = env_secret("METRICS_TOKEN", default="")

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "crosspost.logging.RedactSecretsFilter"},
        "request_log": {"()": "crosspost.logging.RequestLogFilter"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's default config gives "django" a console handler of its own (DEBUG on), so every
        # record was printed twice, once bare and once by the root handler: the root's is enough.
        "django": {"handlers": [], "propagate": True},
        # 4xx and /health/ 503 lines repeat the access log: DEBUG (crosspost/logging.py).
        "django.request": {"filters": ["request_log"]},
        "django.db.backends": {"level": "INFO"},
        # urllib3 logs request URLs, and the Bot API puts the token in the URL.
        "urllib3.connectionpool": {"filters": ["redact"]},
        # axes logs every cleanup at INFO; its lockouts (WARNING) are what an operator needs.
        "axes": {"level": "WARNING"},
    },
}

# --- Production hardening (DEBUG off) ---------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
    # /health/ must answer plain HTTP probes from the orchestrator.
    SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^metrics$"]
