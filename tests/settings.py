"""Test settings: the real settings, with values a test run must not share with `make run`.

Environment defaults are set before the real settings are imported, and in
os.environ, so the worker processes the end-to-end tests start read the same.
"""

import os
import tempfile
import uuid

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-" + uuid.uuid4().hex)
# Own queues on the shared RabbitMQ: a running dev worker must not take test jobs.
os.environ.setdefault("MEDIA_QUEUE_PREFIX", f"test-{uuid.uuid4().hex[:10]}")
os.environ.setdefault("MEDIA_DATA_DIR", tempfile.mkdtemp(prefix="mediaplatform-test-"))
# Short, so the test of a GPU queue nobody consumes sees RabbitMQ move the job to the CPU queue.
os.environ.setdefault("MEDIA_GPU_QUEUE_TTL_S", "5")
# The chaos test kills workers at random: a message held by several killed workers in a
# row must not hit the delivery limit by bad luck. The poison test reads the value.
os.environ.setdefault("MEDIA_DELIVERY_LIMIT", "8")
# The corpus and chaos tests upload dozens of files a minute; one test checks the limit itself.
os.environ.setdefault("MEDIA_UPLOAD_RATE_PER_MINUTE", "1000")
# Webhook receivers in the tests listen on 127.0.0.1, and retries must come quickly.
os.environ.setdefault("MEDIA_WEBHOOK_ALLOW_PRIVATE", "1")
os.environ.setdefault("MEDIA_WEBHOOK_BACKOFF_BASE_S", "0.5")
os.environ.setdefault("MEDIA_WEBHOOK_BACKOFF_MAX_S", "2")
os.environ.setdefault("MEDIA_WEBHOOK_MAX_ATTEMPTS", "4")
for name in ("S3_ENDPOINT_URL", "S3_BUCKET"):  # filesystem storage unless a test switches
    os.environ.pop(name, None)

from mediaplatform.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The manifest storage needs `collectstatic`; tests render templates without it.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
STATIC_ROOT = DATA_DIR / "static"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
