"""Pages refuse text that is not text (NUL, other control characters) with a 400 naming the field
and store nothing: on PostgreSQL, which refuses NUL in text, these were 500s (issue 28)."""

import re
from html import unescape

import pytest
from django.urls import reverse

from media_tasks.models import ApiToken, Asset, Job, Rendition
from tests.factories import video_with_frame

pytestmark = pytest.mark.django_db


@pytest.fixture
def video(user, fs_storage, monkeypatch) -> Asset:
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    # Succeeded: its poster form shows.
    return video_with_frame(owner=user, job_status=Job.Status.SUCCEEDED, description="Words")


def _text(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def test_a_search_link_with_nul_is_refused_naming_the_field(alice_client, video):
    response = alice_client.get(reverse("asset_list") + "?q=%00")
    assert response.status_code == 400
    assert "“q” holds a control character" in _text(response)


def test_a_token_name_with_nul_is_refused_on_the_form(alice_client, user):
    before = ApiToken.objects.count()
    response = alice_client.post(reverse("token_list"), {"name": "n\x00m"})
    assert response.status_code == 400
    assert re.search(r'id="name-error"[^>]*>[^<]*(control character|Null characters)', response.content.decode())
    assert ApiToken.objects.count() == before


def test_a_poster_frame_with_nul_is_refused_on_the_page(alice_client, video):
    response = alice_client.post(reverse("asset_poster", args=[video.id]), {"frame": "f\x00"})
    assert response.status_code == 400
    assert re.search(r'id="poster-error"[^>]*>[^<]*(control character|Null characters)', response.content.decode())
    assert not video.renditions.filter(kind=Rendition.Kind.POSTER).exists()


def test_a_description_with_a_control_character_is_refused_on_the_form(alice_client, video):
    response = alice_client.post(reverse("asset_edit", args=[video.id]), {"title": "", "description": "x\x07y"})
    assert response.status_code == 400
    assert "control character" in _text(response)
    video.refresh_from_db()
    assert video.description == "Words"


def test_a_link_with_nul_is_refused_before_sign_in_too(client):
    response = client.get("/accounts/login/?next=/assets/%00")
    assert response.status_code == 400
    assert "“next” holds a control character" in _text(response)
