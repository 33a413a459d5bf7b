"""The one settings module, read from the environment.

Development defaults (SQLite, Celery's filesystem broker, console e-mail) apply only while
DJANGO_DEBUG is on. With DJANGO_DEBUG off (production) a missing secret or host list stops
start-up instead of falling back to a development value.
"""

import os
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.brokers import celery_broker_options
from config.inline_script import THEME_SCRIPT_CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when DJANGO_DEBUG is off")
    return value


DEBUG = env_bool("DJANGO_DEBUG", False)
VAR_DIR = Path(env("KB_VAR_DIR", str(BASE_DIR / "var")))

if DEBUG:
    # Development only: this key never signs anything outside a developer's machine.
    SECRET_KEY = env("DJANGO_SECRET_KEY", "dev-only-insecure-key-not-for-production")
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
else:
    SECRET_KEY = required("DJANGO_SECRET_KEY")
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS") or [required("DJANGO_ALLOWED_HOSTS")]

SITE_NAME = "Verified Data Science"
# Canonical URLs, the sitemap and robots.txt point here: required in production.
SITE_URL = (env("SITE_URL", "http://127.0.0.1:8000") if DEBUG else required("SITE_URL")).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.postgres",
    "kb",
    "answers",
    "runner",
    "demo_requests",
    "consent",
    "analytics",
    "feedback",
    "content_health",
]

MIDDLEWARE = [
    # Outside XFrameOptionsMiddleware, so it sees which pages may be framed;
    # first, so that the health probes' responses get the policies too.
    "config.security_headers.SecurityHeadersMiddleware",
    # /healthz* and /metrics answer plain-HTTP probes inside the stack (no HTTPS
    # redirect, any Host header); then a request id and the request metrics for everything.
    "config.health.ProbeMiddleware",
    "config.observability.middleware.RequestObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # request.consent first; analytics then counts only what consent allows.
    "consent.middleware.ConsentMiddleware",
    "analytics.middleware.ArticleViewMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "kb.context_processors.site",
                "consent.context_processors.consent",
            ],
        },
    },
]


def database_from_url(url: str) -> dict:
    """postgres://user:pass@host:port/name -> Django DATABASES entry (no extra dependency)."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(f"Unsupported DATABASE_URL scheme {parsed.scheme!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


if env("DATABASE_URL"):
    DATABASES = {"default": database_from_url(env("DATABASE_URL"))}
elif DEBUG:
    # SQLite in WAL mode so the web process and the worker can write side by side.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
else:
    DATABASES = {"default": database_from_url(required("DATABASE_URL"))}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
# --- Media storage -------------------------------------------------------------
# MEDIA_STORAGE=filesystem (default): MEDIA_ROOT, served by nginx under /media/ in the stack.
# MEDIA_STORAGE=s3: an S3-compatible bucket (django-storages + boto3), so workers on other
# machines write figures every web replica links to. Figures have content-hash names and
# are public, so URLs are plain (no expiring signatures in the stored HTML) and never
# overwritten.
MEDIA_STORAGE = env("MEDIA_STORAGE", "filesystem")
if MEDIA_STORAGE == "s3":
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("MEDIA_S3_BUCKET") or required("MEDIA_S3_BUCKET"),
            "endpoint_url": env("MEDIA_S3_ENDPOINT_URL") or None,
            "region_name": env("MEDIA_S3_REGION") or None,
            "custom_domain": env("MEDIA_S3_CUSTOM_DOMAIN") or None,
            "querystring_auth": False,
            "file_overwrite": False,
            "default_acl": None,
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
        },
    }
elif MEDIA_STORAGE == "filesystem":
    _media_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise ImproperlyConfigured(f"MEDIA_STORAGE must be 'filesystem' or 's3', not {MEDIA_STORAGE!r}")
STORAGES = {
    "default": _media_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

CACHE_URL = env("REDIS_URL")
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Page cache (kb/page_cache.py): whole public pages per kind of reader. It must be
# shared by every process that can publish (web and Celery workers), so it lives in Redis in
# production; the one-machine run (no Redis) keeps it in files under var/, which the runserver
# and its worker share. PAGE_CACHE=0 turns it off (every page rendered live).
if not env_bool("PAGE_CACHE", True):
    CACHES["pages"] = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
elif CACHE_URL:
    CACHES["pages"] = {**CACHES["default"], "KEY_PREFIX": "pages"}
else:
    CACHES["pages"] = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "page-cache"),
        "OPTIONS": {"MAX_ENTRIES": 2000},
    }

# E-mail: console in development, SMTP from the environment otherwise.
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "kb@localhost")
# Where readers write to exercise their data-protection rights; shown on /privacy/.
PRIVACY_CONTACT_EMAIL = env("PRIVACY_CONTACT_EMAIL", DEFAULT_FROM_EMAIL)

# Demo requests (demo_requests/): where sales are told, and the spam traps.
SALES_EMAIL = env_list("SALES_EMAIL", "sales@localhost")
DEMO_REQUEST_EMAIL_QUEUE = env("DEMO_REQUEST_EMAIL_QUEUE", "cpu")
DEMO_REQUEST_MIN_SECONDS = float(env("DEMO_REQUEST_MIN_SECONDS", "3"))  # faster than this is a bot
DEMO_REQUEST_MAX_AGE_S = int(env("DEMO_REQUEST_MAX_AGE_S", str(4 * 3600)))  # an older form is replayed
_rate = env("DEMO_REQUEST_RATE_LIMIT", "5/600")  # posts per client per window in seconds
DEMO_REQUEST_RATE_LIMIT = (int(_rate.split("/")[0]), int(_rate.split("/")[1]))
# Behind a reverse proxy, the META key of the header it sets to the client's address
# (e.g. HTTP_X_REAL_IP); the default trusts only the socket's address. One setting for every
# per-client limit of the site (config/client_address.py); the demo form's old name still works.
CLIENT_IP_HEADER = env("CLIENT_IP_HEADER") or env("DEMO_REQUEST_CLIENT_IP_HEADER", "REMOTE_ADDR")
DEMO_REQUEST_RETENTION_DAYS = int(env("DEMO_REQUEST_RETENTION_DAYS", "730"))  # after closing

# Reader feedback (feedback/): posts per client per window in seconds (votes and reasons together).
_rate = env("FEEDBACK_RATE_LIMIT", "20/600")
FEEDBACK_RATE_LIMIT = (int(_rate.split("/")[0]), int(_rate.split("/")[1]))
# Content health (content_health/): when a published answer is due for review again, and how
# long before that date it shows as "due for review".
CONTENT_REVIEW_INTERVAL_DAYS = int(env("CONTENT_REVIEW_INTERVAL_DAYS", "180"))
CONTENT_REVIEW_DUE_SOON_DAYS = int(env("CONTENT_REVIEW_DUE_SOON_DAYS", "14"))

# Cookie consent (consent/) and first-party analytics (analytics/). A new policy version
# makes the banner ask every visitor again.
CONSENT_POLICY_VERSION = env("CONSENT_POLICY_VERSION", "2025-06")
CONSENT_COOKIE_SECURE = not DEBUG
CONSENT_RECORD_RETENTION_DAYS = int(env("CONSENT_RECORD_RETENTION_DAYS", "1095"))
ANALYTICS_COOKIE_MAX_AGE_S = 182 * 24 * 3600

# Celery: Redis in production and tests, or RabbitMQ (amqp://); the filesystem transport on one
# machine. A filesystem URL names a host the transport never uses: kombu clones a connection for
# its pool and, given no host, logs "No hostname was supplied. Reverting to default 'localhost'".
# What each broker needs (queue types, confirms, visibility timeout) is in config/brokers.py.
CELERY_BROKER_URL = env("CELERY_BROKER_URL") or ("filesystem://" if DEBUG else required("CELERY_BROKER_URL"))
if CELERY_BROKER_URL == "filesystem://":
    CELERY_BROKER_URL = "filesystem://localhost/"
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# Reliability (see runner/tasks.py for the per-task settings):
# - a worker reserves one job at a time, so a slow run never holds others hostage;
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# - jobs are acknowledged after they ran and redelivered when their worker dies;
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# - Redis redelivers an unacknowledged job after the visibility timeout, which must stay above
#   the longest allowed run (600 s) or a long run would be handed to a second worker;
#   runner.services.run_start also refuses a job another live worker is running. RabbitMQ
#   has no visibility timeout: it redelivers when the consumer's connection closes, and a
#   delivery unacknowledged past the server's consumer_timeout (config/brokers.py).
CELERY_VISIBILITY_TIMEOUT_S = int(env("CELERY_VISIBILITY_TIMEOUT", "3600"))
# - publishing gives up fast when the broker is down: the row is saved and the sweep
#   (runner.requeue_stale_runs, on beat) sends it when the broker is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# - a broker blip must not kill the sandboxes that are running: a run's
#   results go to the database, not the broker, so it finishes and stores them; its late ack
#   is lost with the connection, and the message that Redis gives back after the visibility
#   timeout finds the run finished and does nothing (runner.services.run_start).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# - a pool process reports up before its fork servers are ready (runner.pool.warm_start), but on
#   a loaded machine even that start can take seconds: Celery's 4 s default killed pool starts
#   in a loop. Measured here: one fork server takes ~3.7 s to its hello, two ~7 s.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = float(env("CELERY_WORKER_PROC_ALIVE_TIMEOUT", "60"))
# --- Runner liveness and the stale-run sweep ---------------------------
# Workers beat every RUNNER_HEARTBEAT_INTERVAL_S and count as live for RUNNER_WORKER_LIVE_WINDOW_S
# after a beat; the sweep (every RUNNER_REQUEUE_INTERVAL_S on beat) re-sends runs stuck for
# RUNNER_REQUEUE_STALE_AFTER_S. Tests set them small to see a recovery in seconds.
RUNNER_HEARTBEAT_INTERVAL_S = float(env("RUNNER_HEARTBEAT_INTERVAL_S", "10"))
RUNNER_WORKER_LIVE_WINDOW_S = float(env("RUNNER_WORKER_LIVE_WINDOW_S", "45"))
RUNNER_REQUEUE_INTERVAL_S = float(env("RUNNER_REQUEUE_INTERVAL_S", "60"))
RUNNER_REQUEUE_STALE_AFTER_S = float(env("RUNNER_REQUEUE_STALE_AFTER_S", "120"))
# A run still `running` this long after it started is past the task's hard time limit
# (runner.tasks.RUN_TIME_LIMIT_S, 660 s): the sweep sends it again even if its worker beats.
RUNNER_RUN_DEADLINE_S = float(env("RUNNER_RUN_DEADLINE_S", "900"))
# --- end of runner liveness settings ------------------------------------------------------------

# Daily jobs run at a fixed time of day (crontab), and beat keeps its state in a file on a
# volume (docker-compose.yml), so a redeploy neither restarts the timers nor skips a day.
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-runs": {
        "task": "runner.requeue_stale_runs",
        "schedule": RUNNER_REQUEUE_INTERVAL_S,
        "options": {"queue": "cpu"},
    },
    "reverify-published": {"task": "answers.reverify_published", "schedule": crontab(minute=30, hour=3)},
    "reverify-on-environment-change": {"task": "answers.reverify_on_environment_change", "schedule": 300.0},
    "demo-requests-requeue-unsent-emails": {
        "task": "demo_requests.requeue_unsent_emails",
        "schedule": 60.0,
        "options": {"queue": DEMO_REQUEST_EMAIL_QUEUE},
    },
    "demo-requests-purge-closed": {
        "task": "demo_requests.purge_closed",
        "schedule": crontab(minute=0, hour=4),
    },
    "consent-purge-old-records": {
        "task": "consent.purge_old_records",
        "schedule": crontab(minute=10, hour=4),
    },
    # Just after midnight: yesterday's voter hashes become unlinkable as soon as the day is over.
    "feedback-purge-old-salts": {"task": "feedback.purge_old_salts", "schedule": crontab(minute=1, hour=0)},
    "content-health-weekly-digest": {
        "task": "content_health.send_weekly_digests",
        "schedule": crontab(minute=0, hour=7, day_of_week="mon"),
    },
}
for _name, _value in celery_broker_options(
    CELERY_BROKER_URL, visibility_timeout_s=CELERY_VISIBILITY_TIMEOUT_S, filesystem_dir=VAR_DIR / "broker"
).items():
    globals()[f"CELERY_{_name.upper()}"] = _value

# Each worker process runs its sandboxes as its own uid, base + the pool process's index, so
# that RLIMIT_NPROC (counted per uid) is not shared between workers. Give each worker service
# on one host its own base (e.g. 200000 for cpu, 210000 for gpu).
RUNNER_SANDBOX_UID_BASE = int(env("RUNNER_SANDBOX_UID_BASE", "200000"))
# Host directories the cells may read (data sets), shown read-only at the same path; the rest
# of the host's files are not in the sandbox at all.
RUNNER_SANDBOX_DATA_DIRS = env_list("RUNNER_SANDBOX_DATA_DIRS")

# "Try it": a reader's edited cell, run on the `try` queue by a worker of its own. Results,
# readers' buckets and the in-flight cap live in the try-it store (runner/tryit_store.py) for
# TRYIT_RESULT_TTL_S, never in the database: Redis (TRYIT_STORE_URL, or TRYIT_REDIS_URL, or
# REDIS_URL) or, in development with no Redis (bin/run), a SQLite file under var/ that the web
# process and the workers of this one machine share. Empty: try-it is unavailable.
# TRYIT_MAX_IN_FLIGHT runs at once across the site; a slot is given back when its run ends or,
# if its worker died, at its deadline. Limits per profile: docs/authoring.md, "Limits".
TRYIT_STORE_URL = (
    env("TRYIT_STORE_URL")
    or env("TRYIT_REDIS_URL")
    or CACHE_URL
    or (f"sqlite://{(VAR_DIR / 'tryit.sqlite3').absolute()}" if DEBUG else "")
)
TRYIT_RESULT_TTL_S = int(env("TRYIT_RESULT_TTL_S", "300"))
TRYIT_MAX_IN_FLIGHT = int(env("TRYIT_MAX_IN_FLIGHT", "16"))
# Time from Run to "lost" for a run nobody finished, beyond the run's own wall-time limit.
TRYIT_LOST_GRACE_S = float(env("TRYIT_LOST_GRACE_S", "30"))
TRYIT_ALLOW_GPU = env_bool("TRYIT_ALLOW_GPU", False)
TRYIT_QUEUE = env("TRYIT_QUEUE", "try")
# The edited cell's code; above what the view lets through (20,000 characters: 80 KB at most).
TRYIT_MAX_CODE_BYTES = int(env("TRYIT_MAX_CODE_BYTES", str(128 * 1024)))
# Each `try` fork server keeps up to TRYIT_CHECKPOINTS checkpoints (an answer's published cells
# run once, forked per reader run) within TRYIT_CHECKPOINT_BUDGET_BYTES of memory (their PSS),
# least recently used evicted first; 0 turns them off (every run then re-runs its prefix).
TRYIT_CHECKPOINTS = int(env("TRYIT_CHECKPOINTS", "4"))
TRYIT_CHECKPOINT_BUDGET_BYTES = int(env("TRYIT_CHECKPOINT_BUDGET_BYTES", str(2 * 1024**3)))
TRYIT_LIMITS = {
    "reader": {
        # The edited cell's wall time (the published cells before it keep their own timeouts).
        "cell_timeout_s": float(env("TRYIT_READER_TIMEOUT_S", "10")),
        "memory_bytes": int(env("TRYIT_READER_MEMORY_BYTES", str(512 * 1024**2))),
        "processes": 64,
        "tmp_bytes": 16 * 1024**2,
        "tmp_inodes": 1_000,
        "file_bytes": 16 * 1024**2,
        "output_bytes": 256 * 1024,
        "repr_bytes": 32 * 1024,
        "traceback_bytes": 64 * 1024,
        "figures_per_cell": 5,
        "figures_per_answer": 20,
        "figure_bytes": 1024**2,
        "figure_pixels": 2_000_000,
    },
    "staff": {
        "cell_timeout_s": float(env("TRYIT_STAFF_TIMEOUT_S", "120")),
        "memory_bytes": 2 * 1024**3,
    },
}

# Production hardening; `manage.py check --deploy` passes with DJANGO_DEBUG off.
if not DEBUG:
    # (Probes of /healthz* and /metrics inside the stack are answered before the HTTPS redirect
    # and the host check: config.health.ProbeMiddleware.)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# --- Content-Security-Policy and Permissions-Policy (config/security_headers.py) ---
# No 'unsafe-inline': every style and every script but one comes from a static file. img-src
# allows data: URIs (inline SVG icons); media (figures) is same-origin here, MEDIA_ORIGIN adds
# another origin when figures are served from object storage.
_MEDIA_ORIGIN = env("MEDIA_ORIGIN", "")
# One inline script is allowed by its hash, not by 'unsafe-inline': the theme choice, which
# must run before the first paint (config/inline_script.py). A CONTENT_SECURITY_POLICY set in
# the environment must keep that hash in script-src, or the reader's theme choice is ignored.
CONTENT_SECURITY_POLICY = env(
    "CONTENT_SECURITY_POLICY",
    f"default-src 'self'; script-src 'self' {THEME_SCRIPT_CSP}; style-src 'self'; "
    f"img-src 'self' data:{' ' + _MEDIA_ORIGIN if _MEDIA_ORIGIN else ''}; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'",
)
PERMISSIONS_POLICY = env(
    "PERMISSIONS_POLICY",
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
    "payment=(), usb=()",
)
# --- end of CSP settings --------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# --- Logs, metrics, errors -----------------------------------------------------
# JSON lines (time, level, logger, message, request_id, run_id) in production; plain text in
# development unless LOG_FORMAT says otherwise.
LOG_FORMAT = env("LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.observability.logs.ContextFilter"}},
    "formatters": {
        "json": {"()": "config.observability.logs.json_formatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(run_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["context"], "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}
# Celery's worker and beat log through the same handler instead of installing their own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# /metrics (Prometheus): reachable only inside the stack (nginx does not forward it), and a
# scraper must send "Authorization: Bearer <METRICS_TOKEN>". Required in production: unset, the
# page was public to anything on the stack's network. Development may leave
# it empty, which serves /metrics to anyone.
METRICS_TOKEN = env("METRICS_TOKEN", "") if DEBUG else required("METRICS_TOKEN")
# Optional error reporting; nothing is sent unless SENTRY_DSN is set.
SENTRY_DSN = env("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        environment=env("SENTRY_ENVIRONMENT", "development" if DEBUG else "production"),
        traces_sample_rate=float(env("SENTRY_TRACES_SAMPLE_RATE", "0")),
        send_default_pii=False,
    )

# --- Cell isolation on workers ---------------------------------------------------
# A worker that cannot isolate cells (namespaces, an unprivileged uid) refuses to start in
# production (runner/isolation_policy.py). Only development may run cells unisolated, and those
# runs never show as sandboxed on the page.
RUNNER_ALLOW_UNISOLATED = env_bool("RUNNER_ALLOW_UNISOLATED", DEBUG)
if RUNNER_ALLOW_UNISOLATED and not DEBUG:
    raise ImproperlyConfigured("RUNNER_ALLOW_UNISOLATED is for development only (DJANGO_DEBUG on)")
