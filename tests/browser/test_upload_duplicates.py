"""The upload page, in Chromium, says in plain words that a file was uploaded before, and links
to that earlier upload instead of making a second one."""

from __future__ import annotations

import io
import os

import pytest
from django.urls import reverse

from media_tasks import services, tasks
from media_tasks.models import Asset

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_same_file_dropped_again_links_to_the_earlier_upload(fs_storage, signed_in, user, tmp_path, monkeypatch):
    monkeypatch.setattr(tasks, "job_enqueue", lambda *, job_id: None)  # no worker here: nothing to start
    data = os.urandom(300_000)
    earlier = services.asset_create(owner=user, fileobj=io.BytesIO(data), filename="first.mov", size_bytes=len(data))
    again = tmp_path / "renamed-copy.mov"
    again.write_bytes(data)
    page = signed_in(user)
    page.goto(reverse("asset_upload"))
    page.set_input_files("#file-input", str(again))
    link = page.locator("#upload-list tr.duplicate a.status-link")
    link.wait_for(timeout=60_000)
    assert "You uploaded this file before" in page.inner_text("#upload-list tbody tr .state")
    assert link.get_attribute("href").endswith(reverse("asset_detail", args=[earlier.job.asset_id]))
    assert Asset.objects.count() == 1
    link.click()
    page.wait_for_url(f"**{reverse('asset_detail', args=[earlier.job.asset_id])}")
