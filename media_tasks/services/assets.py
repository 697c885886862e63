"""Uploads: store the file, create the asset and its job, queue the work after commit."""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import IO

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from .. import storage
from ..models import Asset, Job

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024


def asset_create(
    *,
    owner: AbstractBaseUser,
    fileobj: IO[bytes],
    filename: str,
    size_bytes: int,
    correlation_id: str | None = None,
) -> Job:
    """Store an upload and queue its processing; returns the new job.

    The file is streamed to storage chunk by chunk. The job is enqueued only once
    the transaction has committed, so a worker never looks for a row that is not
    there yet.
    """
    from ..tasks import job_enqueue  # tasks import services; import here to break the cycle

    asset_id = uuid.uuid4()
    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(_CHUNK), b""):
        digest.update(chunk)
    key = storage.original_key(asset_id)
    fileobj.seek(0)
    storage.save_stream(key, fileobj)
    with transaction.atomic():
        asset = Asset.objects.create(
            id=asset_id,
            owner=owner,
            original_key=key,
            original_filename=_display_name(filename),
            size_bytes=size_bytes,
            sha256=digest.hexdigest(),
        )
        job = Job.objects.create(asset=asset, correlation_id=correlation_id or uuid.uuid4().hex)
        transaction.on_commit(lambda: job_enqueue(job_id=job.id))
    logger.info("asset %s uploaded as job %s [%s]", asset.id, job.id, job.correlation_id)
    return job


def _display_name(filename: str) -> str:
    # Kept for display only; still, no path parts and no control characters.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "upload"
