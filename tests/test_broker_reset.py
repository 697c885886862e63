"""`manage.py broker_reset` against the real RabbitMQ, on a throwaway queue prefix."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DECLARE = """
import django; django.setup()
from django.conf import settings
from mediaplatform.celery import app
with app.connection_for_write() as conn:
    for queue in settings.CELERY_TASK_QUEUES:
        queue(conn.default_channel).declare()
    if {publish}:
        producer = conn.Producer()
        producer.publish({{"x": 1}}, exchange=settings.MEDIA_QUEUE_SHORT, routing_key=settings.MEDIA_QUEUE_SHORT,
                         declare=[settings.CELERY_TASK_QUEUES[0]])
"""


def run(code_or_args, prefix: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(DJANGO_SETTINGS_MODULE="mediaplatform.settings", DJANGO_DEBUG="1", MEDIA_QUEUE_PREFIX=prefix)
    args = (
        [sys.executable, "-c", code_or_args]
        if isinstance(code_or_args, str)
        else [sys.executable, "manage.py", *code_or_args]
    )
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_broker_reset_deletes_empty_queues_and_refuses_full_ones():
    prefix = f"reset-{uuid.uuid4().hex[:8]}"
    assert run(DECLARE.format(publish=True), prefix).returncode == 0
    refused = run(["broker_reset"], prefix)
    assert refused.returncode != 0 and "holds 1 messages" in refused.stderr
    forced = run(["broker_reset", "--force"], prefix)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.count("deleted ") == 3 and f"deleted {prefix}.short (1 messages)" in forced.stdout
    assert f"no queue {prefix}.dead" in forced.stdout  # only workers declare the dead-letter queue
    again = run(["broker_reset"], prefix)  # nothing left: still succeeds
    assert again.returncode == 0 and f"no queue {prefix}.short" in again.stdout
