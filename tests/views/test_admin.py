import os
import subprocess
import sys

import pytest
from django.test import TestCase
from django.urls import reverse

from media_tasks import services
from tests.views.test_assets import upload_file

pytestmark = pytest.mark.django_db


def test_admin_is_for_staff_only(alice_client):
    response = alice_client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_lists_jobs_and_links_to_flower(client, admin_user, fs_storage, monkeypatch):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    job = services.asset_create(owner=admin_user, fileobj=upload_file(), filename="a.mp4", size_bytes=4108).job
    client.force_login(admin_user)
    index = client.get(reverse("admin:index"))
    assert b"Open Flower" in index.content
    for url in (
        reverse("admin:media_tasks_job_changelist") + "?status__exact=queued",
        reverse("admin:media_tasks_asset_change", args=[job.asset_id]),
        reverse("admin:media_tasks_job_change", args=[job.id]),
        reverse("admin:media_tasks_rendition_changelist"),
        reverse("admin:media_tasks_worker_changelist"),
    ):
        assert client.get(url).status_code == 200, url
    found = client.get(reverse("admin:media_tasks_job_changelist") + f"?q={job.correlation_id}")
    assert str(job.id).encode() in found.content


def test_worker_admin_shows_why_an_encoder_was_refused(client, admin_user):
    from media_tasks import services
    from media_tasks.models import Worker
    from media_tasks.pipeline.encoders import WorkerCapabilities

    services.worker_register(
        hostname="gpu@box", capabilities=WorkerCapabilities(reason="h264_nvenc: Cannot load libcuda.so.1")
    )
    client.force_login(admin_user)
    page = client.get(reverse("admin:media_tasks_worker_change", args=[Worker.objects.get().pk]))
    assert page.status_code == 200 and b"Cannot load libcuda.so.1" in page.content


def test_admin_actions_cancel_retry_reencode_and_delete(
    client, admin_user, fs_storage, monkeypatch, django_capture_on_commit_callbacks
):
    from media_tasks import storage
    from media_tasks.models import Asset, Job

    queued: list = []
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: queued.append(job_id))
    job = services.asset_create(owner=admin_user, fileobj=upload_file(), filename="a.mp4", size_bytes=4108).job
    client.force_login(admin_user)
    jobs_url = reverse("admin:media_tasks_job_changelist")

    client.post(jobs_url, {"action": "cancel", "_selected_action": [job.pk]})
    job.refresh_from_db()
    assert job.status == "cancelled" and job.error == f"Cancelled by {admin_user.username}."

    with django_capture_on_commit_callbacks(execute=True):
        client.post(jobs_url, {"action": "retry", "_selected_action": [job.pk]})
    retried = Asset.objects.get(pk=job.asset_id).latest_job
    assert retried.pk != job.pk and retried.status == "queued" and queued[-1] == retried.pk

    assets_url = reverse("admin:media_tasks_asset_changelist")
    client.post(assets_url, {"action": "reencode", "_selected_action": [job.asset_id]})
    assert Job.objects.filter(asset_id=job.asset_id).count() == 2, "still processing: re-encode refused"

    assert storage.exists(job.asset.original_key)
    client.post(assets_url, {"action": "delete_selected", "_selected_action": [job.asset_id], "post": "yes"})
    assert not Asset.objects.filter(pk=job.asset_id).exists()
    assert not storage.exists(job.asset.original_key), "deleting in admin removes the stored files too"


def test_admin_makes_api_tokens_and_redelivers_webhooks(client, admin_user, user, settings, monkeypatch):
    from media_tasks.models import ApiToken, WebhookAttempt, WebhookDelivery

    client.force_login(admin_user)
    created = client.post(reverse("admin:media_tasks_apitoken_add"), {"owner": user.pk, "name": "ci"}, follow=True)
    assert created.status_code == 200
    secret = next(m.message for m in created.context["messages"]).split("Token for alice: ")[1].split(" ")[0]
    assert ApiToken.objects.get(owner=user).key_hash != secret
    assert client.get("/api/v1/assets", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200

    settings.MEDIA_WEBHOOK_ALLOW_PRIVATE = True
    endpoint = services.webhook_endpoint_create(owner=user, url="http://127.0.0.1:9/hook")
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id="evt_1", event_type="job.failed", payload={}, status="failed", attempts=8
    )
    WebhookAttempt.objects.create(delivery=delivery, number=8, status_code=500, response_excerpt="nope")
    sent = []
    monkeypatch.setattr("media_tasks.tasks.webhook_deliver_task.delay", lambda delivery_id: sent.append(delivery_id))
    page = client.get(reverse("admin:media_tasks_webhookdelivery_change", args=[delivery.pk]))
    assert b"nope" in page.content  # the attempt log with its response excerpt
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(
            reverse("admin:media_tasks_webhookdelivery_changelist"),
            {"action": "redeliver", "_selected_action": [str(delivery.pk)]},
        )
    delivery.refresh_from_db()
    assert delivery.status == "pending" and sent == [str(delivery.pk)]
    for name in ("jobevent", "upload", "apitoken", "webhookendpoint", "webhookdelivery"):
        assert client.get(reverse(f"admin:media_tasks_{name}_changelist")).status_code == 200, name


def test_the_flower_link_follows_flower_port(client, admin_user, settings):
    """`make run` starts Flower on FLOWER_PORT (Procfile): the admin links there unless FLOWER_URL says otherwise."""
    settings.FLOWER_URL, settings.FLOWER_PORT = "", 5599
    client.force_login(admin_user)
    assert b'href="http://127.0.0.1:5599/"' in client.get(reverse("admin:index")).content
    settings.FLOWER_URL = "https://flower.example.com/"
    assert b'href="https://flower.example.com/"' in client.get(reverse("admin:index")).content


def test_flower_port_reaches_the_settings():
    env = {k: v for k, v in os.environ.items() if k not in ("FLOWER_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(FLOWER_PORT="5599", DJANGO_SECRET_KEY="x")
    code = "import mediaplatform.settings as s; print(s.FLOWER_PORT, repr(s.FLOWER_URL))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["5599", "''"]


def test_admin_speaks_plainly_and_never_saves_what_the_system_made(client, admin_user, fs_storage, monkeypatch):
    from media_tasks.models import Job
    from media_tasks.processing import probe

    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    bad = services.asset_create(owner=admin_user, fileobj=upload_file(), filename="notes.mp4", size_bytes=4108).job
    probe.job_probe(job_id=bad.id)  # a text file: failed, and not retryable
    running = services.asset_create(
        owner=admin_user, fileobj=upload_file(content=b"other" * 900), filename="b.mp4", size_bytes=4500
    ).job
    client.force_login(admin_user)
    assets = client.get(reverse("admin:media_tasks_asset_changelist")).content.decode()
    assert "4.0\xa0KB" in assets and "Failed" in assets and "Queued" in assets  # human sizes, a status column
    failed_only = client.get(reverse("admin:media_tasks_asset_changelist") + "?status=failed").content.decode()
    assert "notes.mp4" in failed_only and "b.mp4" not in failed_only
    job_page = client.get(reverse("admin:media_tasks_job_change", args=[bad.id])).content.decode()
    assert 'name="_save"' not in job_page
    assert client.get(reverse("admin:media_tasks_job_add")).status_code == 403
    assert "Add job" not in client.get(reverse("admin:media_tasks_job_changelist")).content.decode()

    done = client.post(
        reverse("admin:media_tasks_job_changelist"),
        {"action": "retry", "_selected_action": [bad.pk, running.pk]},
        follow=True,
    )
    said = [m.message for m in done.context["messages"]]
    assert said[0] == "0 job(s) queued again."
    assert "it is queued" in said[1] and "the file is the reason (The file is not a video" in said[1], said
    assert Job.objects.count() == 2
