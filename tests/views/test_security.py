"""Web hardening: CSRF, per-user upload rate limit, secrets and deploy settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from media_tasks.models import Asset
from tests.views.test_assets import upload_file

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)


def test_uploads_without_a_csrf_token_are_refused(user, fs_storage):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(reverse("asset_upload"), {"file": upload_file()})
    assert response.status_code == 403
    assert not Asset.objects.exists()


def test_uploads_are_rate_limited_per_user(alice_client, other_user, fs_storage, settings):
    settings.MEDIA_UPLOAD_RATE_PER_MINUTE = 2
    for i in range(2):
        body = b"\x00" * 100 + bytes([i])
        ok = alice_client.post(
            reverse("asset_upload"), {"file": upload_file(content=body)}, HTTP_ACCEPT="application/json"
        )
        assert ok.status_code == 202
    refused = alice_client.post(
        reverse("asset_upload"), {"file": upload_file(content=b"third")}, HTTP_ACCEPT="application/json"
    )
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    assert refused.json()["error"]["code"] == "rate_limited"
    assert Asset.objects.count() == 2, "the refused upload was not stored"
    page = alice_client.post(reverse("asset_upload"), {"file": upload_file(content=b"fourth")})
    assert page.status_code == 429 and b"Too many uploads" in page.content
    other = Client()
    other.force_login(other_user)
    assert (
        other.post(reverse("asset_upload"), {"file": upload_file()}, HTTP_ACCEPT="application/json").status_code == 202
    )


def test_duplicate_upload_answers_with_the_earlier_asset(alice_client, fs_storage):
    first = alice_client.post(reverse("asset_upload"), {"file": upload_file()}, HTTP_ACCEPT="application/json")
    again = alice_client.post(
        reverse("asset_upload"), {"file": upload_file(name="copy.mov")}, HTTP_ACCEPT="application/json"
    )
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["duplicate"] is True and again.json()["asset_id"] == first.json()["asset_id"]


def run_django(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    environment.update(DJANGO_SETTINGS_MODULE="mediaplatform.settings", **env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True)


def test_secret_key_is_required_outside_debug():
    proc = run_django("import django; django.setup()", DJANGO_DEBUG="0")
    assert proc.returncode != 0 and "DJANGO_SECRET_KEY is required" in proc.stderr


def test_check_deploy_is_clean_with_production_settings():
    proc = run_django(
        "import django, sys; django.setup(); from django.core.management import call_command;"
        "call_command('check', deploy=True, fail_level='WARNING')",
        DJANGO_DEBUG="0",
        DJANGO_HTTPS="1",
        DJANGO_SECRET_KEY="a-long-random-production-secret-" + "x9Yq2" * 10,
        DJANGO_ALLOWED_HOSTS="media.example.com",
    )
    assert proc.returncode == 0, proc.stderr
