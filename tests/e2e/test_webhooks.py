"""Webhooks end to end: a real worker processes an upload; the event stream reaches a receiver
on localhost, signed; the receiver fails the first attempts and the worker retries with backoff."""

import itertools
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from media_tasks import services
from media_tasks.models import Job, WebhookDelivery
from tests.api.test_assets import png
from tests.conftest import fail_with_worker_log, wait_until
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_signed_events_with_retries_reach_the_receiver(celery_worker, s3_storage, user, client):
    token = services.api_token_create(owner=user, name="hooks").plaintext
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    with Receiver(answers={"job.succeeded": [500, 500]}) as receiver:
        created = client.post("/api/v1/webhooks", {"url": receiver.url}, content_type="application/json")
        assert created.status_code == 201, created.content
        receiver.secret = created.json()["secret"]
        accepted = client.post(
            "/api/v1/assets",
            {"file": SimpleUploadedFile("hook.png", png((12, 34, 56)))},
            HTTP_X_CORRELATION_ID="hook-test-1",
        ).json()
        wait_until(lambda: Job.objects.get(pk=accepted["job_id"]).is_final, 120, "the job to finish")
        deadline = time.monotonic() + 60
        while not any(r["answered"] == 200 for r in receiver.of_type("job.succeeded")):
            if time.monotonic() > deadline:
                fail_with_worker_log(
                    f"no accepted job.succeeded delivery; received {[r['payload']['type'] for r in receiver.received]}",
                    celery_worker,
                )
            time.sleep(0.2)
    types = [r["payload"]["type"] for r in receiver.received]
    assert {"job.queued", "job.started", "job.stage", "job.succeeded"} <= set(types), types
    assert all(r["valid"] for r in receiver.received), "a delivery had a bad signature"
    assert {r["payload"]["correlation_id"] for r in receiver.received} == {"hook-test-1"}
    attempts = receiver.of_type("job.succeeded")
    assert [a["answered"] for a in attempts] == [500, 500, 200]
    gaps = [later["at"] - earlier["at"] for earlier, later in itertools.pairwise(attempts)]
    assert all(gap > 0.05 for gap in gaps), f"retries came without backoff: {gaps}"
    delivery = WebhookDelivery.objects.get(event_type="job.succeeded")
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.SUCCEEDED, 3)
    assert list(delivery.attempt_log.values_list("status_code", flat=True)) == [500, 500, 200]
    log = client.get(f"/api/v1/webhooks/{created.json()['id']}/deliveries").json()
    assert {d["event_type"] for d in log} >= {"job.succeeded"} and all(d["status"] != "pending" for d in log)
