"""Settings, all read from the environment (12-factor, as cookiecutter-django does).

Every variable read here is listed, with its default, in `.env.example` and in the
docs/configuration.md.
"""

from __future__ import annotations

from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path

import dj_database_url
from botocore.config import Config
from django.core.exceptions import ImproperlyConfigured

from .environment import env, env_bool, env_int, env_list
from .queues import task_queues

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off (`make run` writes one to .env)."
        )
    SECRET_KEY = "insecure-debug-only-key"  # noqa: S105 - DEBUG only, refused otherwise
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

# Served over HTTPS (behind a TLS-terminating proxy that sets X-Forwarded-Proto)?
# Then cookies are Secure, HTTP redirects to HTTPS and HSTS is on: what
# `manage.py check --deploy` asks for. Off for `make run` on plain http://127.0.0.1.
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
DJANGO_HTTPS = env_bool("DJANGO_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = DJANGO_HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if DJANGO_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = DJANGO_HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if DJANGO_HTTPS else None
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the upload page's script reads the token for fetch()
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",
    "django_celery_results",
    "axes",
    "media_tasks",
]

# Repeated failed sign-ins are throttled per user name and address (django-axes):
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("MEDIA_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("MEDIA_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Behind reverse proxies, their addresses or networks (e.g. 10.0.0.0/8): the lock then takes the
# client's address from X-Forwarded-For as those proxies wrote it (media_tasks/proxies.py).
# Empty (the default): a direct connection, REMOTE_ADDR, and the header is ignored.
MEDIA_TRUSTED_PROXIES = [str(ip_network(item, strict=False)) for item in env_list("MEDIA_TRUSTED_PROXIES", "")]
AXES_CLIENT_IP_CALLABLE = "media_tasks.proxies.client_address"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "media_tasks.correlation.CorrelationIdMiddleware",
    "media_tasks.api.middleware.ApiErrorShapeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "media_tasks.caching.PrivateCacheMiddleware",  # a page read from the session is `private`
    "django.contrib.messages.middleware.MessageMiddleware",
    "media_tasks.text.QueryTextMiddleware",  # after auth: its 400 page is a page like the others
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "media_tasks.middleware.StorageUnavailableMiddleware",
    "media_tasks.middleware.DatabaseUnavailableMiddleware",
    "media_tasks.middleware.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "mediaplatform.urls"
WSGI_APPLICATION = "mediaplatform.wsgi.application"

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
                "media_tasks.context_processors.links",
            ],
        },
    },
]

DATA_DIR = Path(env("MEDIA_DATA_DIR", str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

# SQLite is the zero-setup default; PostgreSQL (DATABASE_URL) in deployment and CI.
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web and worker write to one file from several processes: WAL lets readers run
    # beside a writer, IMMEDIATE takes the write lock up front instead of failing
    # half way through a transaction. https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-notes
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "asset_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Storage -----------------------------------------------------------------
# With S3 settings: S3 (MinIO in docker-compose) through django-storages. Without:
# Django's filesystem storage under the data directory, so `make run` needs no S3.
S3_ENDPOINT_URL = env("S3_ENDPOINT_URL")
S3_BUCKET = env("S3_BUCKET")
S3_OPTIONS = {
    "bucket_name": S3_BUCKET,
    "endpoint_url": S3_ENDPOINT_URL or None,
    "access_key": env("S3_ACCESS_KEY_ID") or None,
    "secret_key": env("S3_SECRET_ACCESS_KEY") or None,
    "region_name": env("S3_REGION", "us-east-1"),
    # MinIO and most self-hosted S3 servers want path-style URLs.
    "addressing_style": env("S3_ADDRESSING_STYLE", "path"),
    "signature_version": "s3v4",
    # Keys are deterministic so a retried task overwrites instead of duplicating.
    "file_overwrite": True,
    "default_acl": None,
    "querystring_auth": True,
    "querystring_expire": env_int("S3_PRESIGNED_EXPIRY_S", 300),
    # S3File spools reads here; past this it rolls over to disk instead of memory.
    "max_memory_size": 8 * 1024 * 1024,
}
# The web process gives up on S3 quickly: a paused or unreachable S3 answers a request
# 503 within about (connect + read) x attempts, instead of holding its thread for minutes.
# Workers switch to botocore's longer defaults as they start (storage.use_worker_client_config).
MEDIA_WEB_S3_CONNECT_TIMEOUT_S = float(env("MEDIA_WEB_S3_CONNECT_TIMEOUT_S", "3"))
MEDIA_WEB_S3_READ_TIMEOUT_S = float(env("MEDIA_WEB_S3_READ_TIMEOUT_S", "10"))
MEDIA_WEB_S3_MAX_ATTEMPTS = env_int("MEDIA_WEB_S3_MAX_ATTEMPTS", 2)
S3_OPTIONS["client_config"] = Config(
    s3={"addressing_style": S3_OPTIONS["addressing_style"]},
    signature_version=S3_OPTIONS["signature_version"],
    connect_timeout=MEDIA_WEB_S3_CONNECT_TIMEOUT_S,
    read_timeout=MEDIA_WEB_S3_READ_TIMEOUT_S,
    retries={"total_max_attempts": MEDIA_WEB_S3_MAX_ATTEMPTS, "mode": "standard"},  # the first included
)
FILESYSTEM_STORAGE_OPTIONS = {
    "location": str(DATA_DIR / "storage"),
    "base_url": None,
    # Deterministic keys: a retried task must overwrite, not get "key_AbC123".
    "allow_overwrite": True,
}
if S3_BUCKET:
    DEFAULT_STORAGE = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": S3_OPTIONS}
else:
    DEFAULT_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": FILESYSTEM_STORAGE_OPTIONS,
    }
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Where browsers reach S3 when it differs from where the servers do (docker-compose:
# servers use http://minio:9000, browsers http://localhost:9000). Presigned URLs are
# signed for this host; signing is local, nothing connects to it.
S3_PUBLIC_ENDPOINT_URL = env("S3_PUBLIC_ENDPOINT_URL")
if S3_BUCKET and S3_PUBLIC_ENDPOINT_URL:
    STORAGES["public"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**S3_OPTIONS, "endpoint_url": S3_PUBLIC_ENDPOINT_URL},
    }

# Uploads above this many bytes are spooled to a temp file by Django, never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = env("FILE_UPLOAD_TEMP_DIR") or None

# --- Media processing ----------------------------------------------------------
from .encoding import *  # noqa: E402, F403 (the ladder, x264, quality, per-title: mediaplatform/encoding.py)

MEDIA_MAX_UPLOAD_BYTES = env_int("MEDIA_MAX_UPLOAD_BYTES", 5 * 1024**3)
MEDIA_MAX_DURATION_S = env_int("MEDIA_MAX_DURATION_S", 4 * 3600)
MEDIA_MAX_PIXELS = env_int("MEDIA_MAX_PIXELS", 100_000_000)
MEDIA_MAX_FRAME_RATE = env_int("MEDIA_MAX_FRAME_RATE", 240)
# Uploads one user may start per minute (counted from their assets; 429 past it).
MEDIA_UPLOAD_RATE_PER_MINUTE = env_int("MEDIA_UPLOAD_RATE_PER_MINUTE", 30)
MEDIA_WORK_DIR = Path(env("MEDIA_WORK_DIR", str(DATA_DIR / "work")))
MEDIA_PRESIGNED_EXPIRY_S = S3_OPTIONS["querystring_expire"]
# HLS links the API gives (/play/<token>/master.m3u8) play with no cookie for this long.
MEDIA_PLAYBACK_EXPIRY_S = env_int("MEDIA_PLAYBACK_EXPIRY_S", 4 * 3600)
# A shared page's links are ours, checked against the share on each request; on S3 they send the
# viewer on to a presigned URL valid this long, so stopping sharing leaves at most this window.
MEDIA_SHARED_REDIRECT_EXPIRY_S = env_int("MEDIA_SHARED_REDIRECT_EXPIRY_S", 10)

# --- Celery --------------------------------------------------------------------
# Read by mediaplatform/celery.py with namespace="CELERY".
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Seconds to wait for the broker to accept a connection and finish its handshake.
CELERY_BROKER_CONNECTION_TIMEOUT = float(env("CELERY_BROKER_CONNECTION_TIMEOUT", "4"))
# A publish (confirm included) gives up after about this long, or one reconnect more when
# the connection had gone stale: a web request is never held by a blocked broker, and a
# job whose publish failed is published by jobs_rescue (media_tasks/publishing.py).
MEDIA_PUBLISH_TIMEOUT_S = float(env("MEDIA_PUBLISH_TIMEOUT_S", "5"))
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
# Job state lives in the database; tasks keep no results.
CELERY_TASK_IGNORE_RESULT = True
# Only the chunk tasks of a chunked transcode keep a result: a chord counts them in the
# database (django-celery-results' ChordCounter), no other result store is run.
# https://docs.celeryq.dev/en/stable/userguide/canvas.html#chords
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXPIRES = 86400
# Ack after the work is done and requeue when a worker dies mid-task, so a killed
# worker delays a job instead of losing it. Tasks are idempotent for this reason.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-acks-late
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per process: a long encode must not sit on reserved work.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = False
# The job's correlation id in every worker log line (media_tasks/correlation.py adds it to every record).
CELERY_WORKER_LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] [%(correlation_id)s] %(message)s"
CELERY_WORKER_TASK_LOG_FORMAT = (
    "[%(asctime)s: %(levelname)s/%(processName)s] [%(correlation_id)s] %(task_name)s[%(task_id)s]: %(message)s"
)
CELERY_WORKER_SEND_TASK_EVENTS = True  # for Flower
CELERY_TASK_SEND_SENT_EVENT = True

# Queue names carry a prefix so that several deployments (or a test run beside a
# running `make run`) can share one RabbitMQ without taking each other's work.
MEDIA_QUEUE_PREFIX = env("MEDIA_QUEUE_PREFIX", "media")
# Remote control (ping, inspect, cancel: the pidbox) and monitoring events on exchanges of
# this deployment too: another deployment's `celery inspect` and Flower do not see our
# workers, and a worker name reused by two deployments does not lock the other's pidbox.
# Still, one vhost per deployment is the clean separation (docs/deployments.md).
CELERY_CONTROL_EXCHANGE = f"{MEDIA_QUEUE_PREFIX}.control"
CELERY_EVENT_EXCHANGE = f"{MEDIA_QUEUE_PREFIX}.events"
MEDIA_QUEUE_SHORT = f"{MEDIA_QUEUE_PREFIX}.short"
MEDIA_QUEUE_TRANSCODE_CPU = f"{MEDIA_QUEUE_PREFIX}.transcode.cpu"
MEDIA_QUEUE_TRANSCODE_GPU = f"{MEDIA_QUEUE_PREFIX}.transcode.gpu"
# Messages past their delivery limit land here; every worker consumes it with
# media_tasks.deadletter (not as tasks) and fails the job with its reason.
MEDIA_QUEUE_DEAD = f"{MEDIA_QUEUE_PREFIX}.dead"
# Deliveries of one message before RabbitMQ gives up on it (a task that keeps
# killing its worker). Above the kills a job may survive: each lost worker is one.
MEDIA_DELIVERY_LIMIT = env_int("MEDIA_DELIVERY_LIMIT", 5)
# A transcode waiting this long on the GPU queue (all GPU workers gone or busy)
# is dead-lettered by RabbitMQ to the CPU queue: delayed, never stranded.
MEDIA_GPU_QUEUE_TTL_S = env_int("MEDIA_GPU_QUEUE_TTL_S", 600)


CELERY_TASK_QUEUES = task_queues(
    short=MEDIA_QUEUE_SHORT,
    cpu=MEDIA_QUEUE_TRANSCODE_CPU,
    gpu=MEDIA_QUEUE_TRANSCODE_GPU,
    dead=MEDIA_QUEUE_DEAD,
    delivery_limit=MEDIA_DELIVERY_LIMIT,
    gpu_ttl_s=MEDIA_GPU_QUEUE_TTL_S,
)
CELERY_TASK_DEFAULT_QUEUE = MEDIA_QUEUE_SHORT
CELERY_TASK_DEFAULT_EXCHANGE = MEDIA_QUEUE_SHORT
CELERY_TASK_DEFAULT_EXCHANGE_TYPE = "topic"
CELERY_TASK_DEFAULT_ROUTING_KEY = MEDIA_QUEUE_SHORT
# Publisher confirms: delay() returns only once RabbitMQ has the message.
CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
# On a lost broker connection, stop running tasks: their late-acked messages are
# redelivered anyway, and finishing them too would do the work twice at once.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# The transcode queue (CPU or GPU) is chosen per job when it is enqueued; see tasks.py.
CELERY_TASK_ROUTES = {
    "media_tasks.transcode": {"queue": MEDIA_QUEUE_TRANSCODE_CPU, "routing_key": MEDIA_QUEUE_TRANSCODE_CPU},
}
CELERY_BEAT_SCHEDULE = {
    "worker-registry-prune": {"task": "media_tasks.worker_prune", "schedule": 600.0},
    "jobs-rescue-stalled": {"task": "media_tasks.jobs_rescue", "schedule": 60.0},
    "uploads-abort-incomplete": {"task": "media_tasks.uploads_abort_incomplete", "schedule": 3600.0},
    "webhooks-resend-stalled": {"task": "media_tasks.webhooks_resend_stalled", "schedule": 300.0},
}
# A running stage touches its job's heartbeat every MEDIA_JOB_HEARTBEAT_S; silent for
# MEDIA_JOB_STALL_S, the job is resumed (or failed after MEDIA_JOB_MAX_ATTEMPTS).
MEDIA_JOB_HEARTBEAT_S = env_int("MEDIA_JOB_HEARTBEAT_S", 20)
MEDIA_JOB_STALL_S = env_int("MEDIA_JOB_STALL_S", 600)
MEDIA_JOB_MAX_ATTEMPTS = env_int("MEDIA_JOB_MAX_ATTEMPTS", 5)
# A stage that hits a transient error (database, broker) is retried by Celery with a
# jittered exponential backoff capped at this many seconds, at most this many times.
MEDIA_TASK_MAX_RETRIES = env_int("MEDIA_TASK_MAX_RETRIES", 8)
MEDIA_TASK_RETRY_BACKOFF_MAX_S = env_int("MEDIA_TASK_RETRY_BACKOFF_MAX_S", 120)
# Storage out of reach is retried without a count, the backoff capped at
# MEDIA_STORAGE_RETRY_BACKOFF_MAX_S (keep it well under MEDIA_JOB_STALL_S), for as long as
# the outage lasts up to MEDIA_STORAGE_OUTAGE_MAX_S; the job says "waiting for storage".
MEDIA_STORAGE_RETRY_BACKOFF_MAX_S = env_int("MEDIA_STORAGE_RETRY_BACKOFF_MAX_S", 60)
MEDIA_STORAGE_OUTAGE_MAX_S = env_int("MEDIA_STORAGE_OUTAGE_MAX_S", 3600)
# The database out of reach is waited out in the worker, the stage's message kept and its
# retries unspent, re-checked at most MEDIA_DATABASE_RETRY_BACKOFF_MAX_S apart; a stage whose
# outage outlasted MEDIA_DATABASE_OUTAGE_MAX_S is failed (once the failure can be written).
MEDIA_DATABASE_RETRY_BACKOFF_MAX_S = env_int("MEDIA_DATABASE_RETRY_BACKOFF_MAX_S", 10)
MEDIA_DATABASE_OUTAGE_MAX_S = env_int("MEDIA_DATABASE_OUTAGE_MAX_S", 3600)
# A worker's disk full (ENOSPC) is waited out the same way, up to this long ("waiting for disk space").
MEDIA_DISK_FULL_MAX_S = env_int("MEDIA_DISK_FULL_MAX_S", 3600)
# S3 multipart uploads (interrupted uploads) older than this are aborted.
# Webhooks. Private, loopback and link-local targets are refused (SSRF) unless allowed,
# for local development and tests only.
MEDIA_WEBHOOK_ALLOW_PRIVATE = env_bool("MEDIA_WEBHOOK_ALLOW_PRIVATE", False)
MEDIA_WEBHOOK_MAX_ATTEMPTS = env_int("MEDIA_WEBHOOK_MAX_ATTEMPTS", 8)
MEDIA_WEBHOOK_BACKOFF_BASE_S = float(env("MEDIA_WEBHOOK_BACKOFF_BASE_S", "10"))
MEDIA_WEBHOOK_BACKOFF_MAX_S = float(env("MEDIA_WEBHOOK_BACKOFF_MAX_S", "3600"))
MEDIA_WEBHOOK_CONNECT_TIMEOUT_S = float(env("MEDIA_WEBHOOK_CONNECT_TIMEOUT_S", "3"))
MEDIA_WEBHOOK_READ_TIMEOUT_S = float(env("MEDIA_WEBHOOK_READ_TIMEOUT_S", "10"))
# Origins whose pages may upload straight to the bucket and play from it (bucket CORS,
# set by `manage.py storage_setup`).
MEDIA_CORS_ORIGINS = env_list("MEDIA_CORS_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")
# Prometheus scrape endpoint /metrics; when set, scrapers send `Authorization: Bearer <token>`.
MEDIA_METRICS_TOKEN = env("MEDIA_METRICS_TOKEN")
MEDIA_MULTIPART_MAX_AGE_S = env_int("MEDIA_MULTIPART_MAX_AGE_S", 86400)
# Worker temp directories untouched this long are leftovers of a killed worker.
MEDIA_WORKDIR_MAX_AGE_S = env_int("MEDIA_WORKDIR_MAX_AGE_S", 6 * 3600)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# --- GPU workers ------------------------------------------------------------------
# auto: take GPU work only if a hardware encoder passes a real test encode at start;
# force: take it anyway (with MEDIA_GPU_ENCODER, default the first listed); off: never.
MEDIA_GPU_ENCODE = env("MEDIA_GPU_ENCODE", "auto")
MEDIA_GPU_ENCODER = env("MEDIA_GPU_ENCODER")
# auto: decode/scale on the GPU only if a start-up micro-benchmark finds it faster; off; force.
MEDIA_HW_DECODE = env("MEDIA_HW_DECODE", "auto")
# A GPU worker not heard from for this long no longer attracts GPU routing.
MEDIA_WORKER_STALE_S = env_int("MEDIA_WORKER_STALE_S", 90)

# Flower listens on 127.0.0.1:FLOWER_PORT (Procfile); the admin links there unless FLOWER_URL is set.
FLOWER_PORT = env_int("FLOWER_PORT", 5555)
FLOWER_URL = env("FLOWER_URL")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"botocore": {"level": "WARNING"}, "boto3": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
