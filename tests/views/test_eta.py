"""The live page's "about N s left" (issue 28: it was about three times too long).

The samples are a real run's: transcode_ladder_with_lead on a 12 s 1280×720 clip, its progress
callback's (seconds, fraction) as recorded on this machine. The stage was entered (its STAGE event)
some seconds before ffmpeg's first report: the message waited in the queue and the source was
copied from storage. The page asks once a second; each answer is checked against what was truly left."""

from datetime import timedelta

import pytest
from django.utils import timezone

from media_tasks import presenters
from media_tasks.models import Job, JobEvent
from media_tasks.processing.workflow import PROGRESS_SPANS
from tests.views.test_library import bulk_assets

pytestmark = pytest.mark.django_db

RUN = [(0.52, 0.0), (1.52, 0.096), (2.53, 0.167), (3.53, 0.283), (4.53, 0.373), (5.53, 0.5), (6.54, 0.583),
       (7.55, 0.667), (8.56, 0.793), (9.56, 0.917), (10.56, 1.0)]  # fmt: skip
QUEUED_AND_COPIED_S = 6.0  # from entering the stage to the encode's start


def test_the_time_left_follows_the_encode_not_the_wait_before_it(user, monkeypatch):
    (asset,) = bulk_assets(user, ["clip.mp4"])
    job = Job.objects.get(asset=asset)
    entered = timezone.now()
    job.status, job.progress = Job.Status.TRANSCODING, PROGRESS_SPANS[Job.Status.TRANSCODING][0]
    job.save()
    JobEvent.objects.create(job=job, type=JobEvent.Type.STAGE, stage=job.status, message="Transcoding")
    JobEvent.objects.filter(job=job).update(created_at=entered)
    start, end = PROGRESS_SPANS[Job.Status.TRANSCODING]
    finished = QUEUED_AND_COPIED_S + RUN[-1][0]
    answers = []
    for at, fraction in RUN[:-1]:
        now = entered + timedelta(seconds=QUEUED_AND_COPIED_S + at)
        monkeypatch.setattr(presenters.timezone, "now", lambda now=now: now)
        Job.objects.filter(pk=job.pk).update(progress=int(start + (end - start) * fraction))
        job = Job.objects.prefetch_related("events").get(pk=job.pk)
        eta = presenters.job_eta_s(job=job)
        answers.append((fraction, eta, finished - QUEUED_AND_COPIED_S - at))
    judged = [(f, eta, left) for f, eta, left in answers if f >= 0.15]
    assert judged and all(eta is not None for _, eta, _ in judged), answers
    off = [(f, round(eta, 1), round(left, 1)) for f, eta, left in judged if not 0.6 <= eta / left <= 1.5]
    assert not off, f"(done, said, truly left) off by more than half: {off}"
