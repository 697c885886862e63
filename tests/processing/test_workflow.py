"""The workflow is the one place that knows a job's stages: what the others derive from it."""

from celery import current_app

from media_tasks.models import Job
from media_tasks.pipeline.probe import IMAGE, VIDEO
from media_tasks.processing import workflow

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
    settings.MEDIA_SSIM_WINDOWS = 3
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
    assert workflow.stages_from(VIDEO, Status.FINALIZING, inclusive=True) == [Status.FINALIZING]


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
