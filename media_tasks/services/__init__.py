"""Everything that changes assets, jobs, renditions and workers, and the storage behind them.

Views, admin actions and Celery tasks call these functions and nothing else writes
models (HackSoft's "services write, selectors read"). One module per entity or concern.
"""

from .assets import UploadResult, asset_create, asset_delete, asset_reprocess
from .housekeeping import job_mark_enqueued, job_resume, jobs_needing_rescue, workdirs_remove_stale
from .jobs import (
    job_cancel,
    job_finalize,
    job_make_image_variants,
    job_make_thumbnails,
    job_mark_failed,
    job_mark_internal_error,
    job_note,
    job_probe,
    job_transcode,
)
from .workers import worker_heartbeat, worker_prune, worker_register, worker_unregister

__all__ = [
    "UploadResult",
    "asset_create",
    "asset_delete",
    "asset_reprocess",
    "job_cancel",
    "job_finalize",
    "job_make_image_variants",
    "job_make_thumbnails",
    "job_mark_enqueued",
    "job_mark_failed",
    "job_mark_internal_error",
    "job_note",
    "job_probe",
    "job_resume",
    "job_transcode",
    "jobs_needing_rescue",
    "workdirs_remove_stale",
    "worker_heartbeat",
    "worker_prune",
    "worker_register",
    "worker_unregister",
]
