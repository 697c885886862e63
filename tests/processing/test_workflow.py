"""The workflow is the one place that knows a job's stages: what the others derive from it."""

import io
import os
import subprocess
import sys

import pytest
from celery import current_app

from media_tasks import services
from media_tasks.models import Job
from media_tasks.pipeline.probe import AUDIO, IMAGE, VIDEO
from media_tasks.processing import chunked, workflow

Status = Job.Status


def test_each_stage_is_entered_from_the_one_before_it_in_some_plan():
    assert {
        Status.PROBING: (Status.QUEUED,),
        Status.TRANSCODING: (Status.PROBING,),
        Status.THUMBNAILING: (Status.TRANSCODING,),
        Status.PROCESSING: (Status.PROBING,),
        Status.FINALIZING: tuple(sorted((Status.PROCESSING, Status.THUMBNAILING))),
    } == workflow.ENTERED_FROM
    running = set(Job.Status) - {Status.QUEUED, *Job.FINAL_STATUSES}
    assert set(workflow.RUNNING_STATUSES) == running == set(workflow.PROGRESS_SPANS)


def test_what_runs_after_a_probe_and_after_a_lost_worker(settings):
    settings.MEDIA_SSIM_WINDOWS = settings.MEDIA_VMAF_WINDOWS = 3
    after_probe = [Status.TRANSCODING, Status.THUMBNAILING, Status.FINALIZING, workflow.QUALITY]
    assert workflow.stages_from(VIDEO, Status.PROBING, inclusive=False) == after_probe
    assert workflow.stages_from(IMAGE, Status.PROBING, inclusive=False) == [Status.PROCESSING, Status.FINALIZING]
    assert workflow.stages_from(VIDEO, Status.THUMBNAILING, inclusive=True)[:2] == [
        Status.THUMBNAILING,
        Status.FINALIZING,
    ]
    assert workflow.stages_from(VIDEO, Status.PROBING, inclusive=True) == [Status.PROBING], "the probe decides the rest"
    assert workflow.stages_from(IMAGE, Status.TRANSCODING, inclusive=True) == [], "not a stage of an image"
    settings.MEDIA_SSIM_WINDOWS = 0
    settings.MEDIA_VMAF_WINDOWS = 3
    assert workflow.stages_from(VIDEO, Status.FINALIZING, inclusive=True) == [Status.FINALIZING, workflow.QUALITY]
    assert workflow.quality_metrics() == ("vmaf",), "VMAF alone is measured after ready too"
    settings.MEDIA_VMAF_WINDOWS = 0
    assert workflow.stages_from(VIDEO, Status.FINALIZING, inclusive=True) == [Status.FINALIZING]


def test_a_sound_alone_is_transcoded_then_pictured_then_finalized_on_the_cpu_queue_never_measured(settings):
    settings.MEDIA_SSIM_WINDOWS = settings.MEDIA_VMAF_WINDOWS = 3
    after_probe = [Status.TRANSCODING, Status.THUMBNAILING, Status.FINALIZING]
    assert workflow.stages_from(AUDIO, Status.PROBING, inclusive=False) == after_probe, "no SSIM or VMAF: no picture"
    assert workflow.transcode_queue(gpu_online=True, kind=AUDIO) == settings.MEDIA_QUEUE_TRANSCODE_CPU
    assert workflow.transcode_queue(gpu_online=True, kind=VIDEO) == settings.MEDIA_QUEUE_TRANSCODE_GPU


def test_every_stage_names_a_registered_task_and_its_limits():
    current_app.loader.import_default_modules()
    for stage in {*workflow.RUNNING_STATUSES, workflow.QUALITY}:
        assert workflow.TASK_NAMES[stage] in current_app.tasks
    assert workflow.time_limits(Status.TRANSCODING, 100) == workflow.stage_time_limits(100)
    assert workflow.time_limits(Status.FINALIZING, 100) == {}
    assert (
        workflow.time_limits(Status.PROBING, 100)["time_limit"]
        > workflow.time_limits(Status.PROBING, 100)["soft_time_limit"]
    )


def test_a_renamed_stage_task_is_registered_under_the_workflow_name(tmp_path):
    """The tasks take their names from the workflow: renaming one there renames the task, so the
    chain never names a task that no worker registered (a rename breaks at import, not at run time)."""
    script = (
        "import django; django.setup()\n"
        "from media_tasks.processing import workflow\n"
        "renamed = {stage: name + '_renamed' for stage, name in workflow.TASK_NAMES.items()}\n"
        "workflow.TASK_NAMES.update(renamed)\n"
        "from celery import current_app\n"
        "import importlib, media_tasks.tasks\n"
        "importlib.reload(media_tasks.tasks)  # as a worker would import it after the rename\n"
        "missing = sorted(n for n in renamed.values() if n not in current_app.tasks)\n"
        "print('missing:', missing)\n"
        "raise SystemExit(1 if missing else 0)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_the_chunked_transcode_enters_its_stage_from_where_the_workflow_says(monkeypatch, fs_storage, user):
    """chunked moves a job into transcoding by the workflow's transition, not by its own copy."""
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    job = services.asset_create(owner=user, fileobj=io.BytesIO(b"x"), filename="a.mp4", size_bytes=1).job
    monkeypatch.setitem(workflow.ENTERED_FROM, Status.TRANSCODING, (Status.QUEUED,))
    assert chunked._enter_chunked(job.id, "worker-1", 2)
    job.refresh_from_db()
    assert job.status == Status.TRANSCODING
    assert job.progress == workflow.PROGRESS_SPANS[Status.TRANSCODING][0]
