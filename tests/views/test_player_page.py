"""The player's parts of an item's page (issue 28): what the buttons beside it say."""

import io
import re

import pytest
from django.urls import reverse

from media_tasks import services
from media_tasks.models import Job
from media_tasks.processing.transitions import job_advance

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(user, fs_storage):
    return services.asset_create(owner=user, fileobj=io.BytesIO(b"x" * 10), filename="a.mp4", size_bytes=10).job


def test_the_cancel_button_says_it_cancels_the_processing(alice_client, job):
    job_advance(job_id=job.id, to=Job.Status.PROBING, worker="w1")
    page = alice_client.get(reverse("asset_detail", args=[job.asset_id])).content.decode()
    (button,) = re.findall(r"<button[^>]*id=\"cancel\"[^>]*>([^<]*)</button>", page)
    assert button == "Cancel processing"
    assert 'aria-label="Cancel"' not in page
