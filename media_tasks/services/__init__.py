"""Everything that changes assets, jobs, renditions and workers, and the storage behind them.

Views, admin actions and Celery tasks call these functions and nothing else writes
models (HackSoft's "services write, selectors read"). One module per entity or concern.
"""

from .assets import UploadResult, asset_create, asset_delete, asset_reprocess, asset_retry, file_sha256
from .errors import ServiceError
from .faults import (
    job_fail_encoder_killed,
    job_fail_storage_gone,
    job_fail_workers_lost,
    job_note_encoder_killed,
    job_wait_for_storage,
)
from .housekeeping import job_mark_enqueued, job_resume, jobs_needing_rescue, workdirs_remove_stale
from .idempotency import idempotent
from .jobs import (
    job_cancel,
    job_discard_local_copies,
    job_finalize,
    job_make_image_variants,
    job_mark_failed,
    job_mark_internal_error,
    job_note,
    job_probe,
    quality_follows,
)
from .quality import job_measure_quality
from .thumbnails import job_make_thumbnails
from .tokens import api_token_authenticate, api_token_create, api_token_revoke
from .transcode import (
    job_transcode,
    job_transcode_audio,
    job_transcode_chunk,
    job_transcode_join,
    transcode_chunk_count,
)
from .webhooks import (
    webhook_deliver,
    webhook_deliveries_stalled,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_redeliver,
)
from .workers import worker_heartbeat, worker_prune, worker_register, worker_unregister

__all__ = [
    "ServiceError",
    "UploadResult",
    "api_token_authenticate",
    "api_token_create",
    "api_token_revoke",
    "asset_create",
    "asset_delete",
    "asset_reprocess",
    "asset_retry",
    "file_sha256",
    "idempotent",
    "job_cancel",
    "job_discard_local_copies",
    "job_fail_encoder_killed",
    "job_fail_storage_gone",
    "job_fail_workers_lost",
    "job_finalize",
    "job_make_image_variants",
    "job_make_thumbnails",
    "job_mark_enqueued",
    "job_mark_failed",
    "job_mark_internal_error",
    "job_measure_quality",
    "job_note",
    "job_note_encoder_killed",
    "job_probe",
    "job_resume",
    "job_transcode",
    "job_transcode_audio",
    "job_transcode_chunk",
    "job_transcode_join",
    "job_wait_for_storage",
    "jobs_needing_rescue",
    "quality_follows",
    "transcode_chunk_count",
    "webhook_deliver",
    "webhook_deliveries_stalled",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_redeliver",
    "workdirs_remove_stale",
    "worker_heartbeat",
    "worker_prune",
    "worker_register",
    "worker_unregister",
]
