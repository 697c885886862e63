"""An item's own data on its page (issue 22): the owner names and describes it there, My media
shows the title, and nobody else can change it."""

import pytest
from django.urls import reverse

from media_tasks import services
from media_tasks.models import Asset
from tests.views.test_assets import no_broker, upload_file  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def test_the_owner_titles_and_describes_an_item_on_its_page(alice_client, user, fs_storage):
    job = services.asset_create(owner=user, fileobj=upload_file(), filename="landscape_1080p.mp4", size_bytes=4108).job
    page = reverse("asset_detail", args=[job.asset_id])
    assert '<h1 id="asset-title">landscape_1080p.mp4</h1>' in alice_client.get(page).content.decode()
    saved = alice_client.post(
        reverse("asset_edit", args=[job.asset_id]), {"title": "Lake at dawn", "description": "North shore."}
    )
    assert saved.status_code == 302 and saved["Location"] == page
    html = alice_client.get(page).content.decode()
    assert '<h1 id="asset-title">Lake at dawn</h1>' in html and "North shore." in html
    assert "alt_text" not in html  # alt text is for images
    rows = alice_client.get(reverse("asset_list")).content.decode()
    assert ">Lake at dawn</a>" in rows and "landscape_1080p.mp4" in rows


def test_a_bad_edit_says_why_and_another_user_cannot_edit(client, alice_client, user, other_user, fs_storage):
    job = services.asset_create(owner=user, fileobj=upload_file(), filename="a.mp4", size_bytes=4108).job
    refused = alice_client.post(reverse("asset_edit", args=[job.asset_id]), {"title": "x" * 201})
    assert refused.status_code == 400 and "at most 200 characters" in refused.content.decode()
    client.force_login(other_user)
    assert client.post(reverse("asset_edit", args=[job.asset_id]), {"title": "mine"}).status_code == 404
    assert Asset.objects.get(pk=job.asset_id).title == ""
