"""The user-facing commands: assets, uploads, API tokens, webhooks, idempotency, the worker registry.

Views, the API, admin actions and Celery tasks call these; a job's own stages and state
changes live in media_tasks.processing (HackSoft's "services write, selectors read").
"""

from ..processing.transitions import job_cancel
from .assets import (
    UploadResult,
    asset_create,
    asset_delete,
    asset_poster_choose,
    asset_reprocess,
    asset_retry,
    asset_share,
    asset_update,
    file_sha256,
)
from .captions import caption_track_add, caption_track_delete
from .errors import ServiceError
from .idempotency import idempotent
from .posters import asset_poster_at, asset_poster_upload
from .sharing import asset_embed_origins_set
from .tokens import api_token_authenticate, api_token_create, api_token_revoke
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
    "asset_embed_origins_set",
    "asset_poster_at",
    "asset_poster_choose",
    "asset_poster_upload",
    "asset_reprocess",
    "asset_retry",
    "asset_share",
    "asset_update",
    "caption_track_add",
    "caption_track_delete",
    "file_sha256",
    "idempotent",
    "job_cancel",
    "webhook_deliver",
    "webhook_deliveries_stalled",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_redeliver",
    "worker_heartbeat",
    "worker_prune",
    "worker_register",
    "worker_unregister",
]
