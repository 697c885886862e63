"""Uploads: store the file, create the asset and its job, queue the work after commit."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import IO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .. import events, storage
from ..models import Asset, Job, JobEvent, Rendition, UploadLog
from ..processing.posters import poster_file_discard
from ..processing.transitions import job_cancel
from .errors import ServiceError

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class UploadResult:
    job: Job
    # True when the owner had uploaded the same bytes before: `job` is that upload's job.
    duplicate: bool = False


def asset_create(
    *,
    owner: AbstractBaseUser,
    fileobj: IO[bytes],
    filename: str,
    size_bytes: int,
    correlation_id: str | None = None,
    sha256: str = "",
) -> UploadResult:
    """Store an upload and queue its processing.

    The file is streamed to storage chunk by chunk. The same bytes uploaded again by the same owner are recognised by
    their SHA-256 (`sha256`, computed here unless given) and answered with the earlier asset, unless that one
    failed or was cancelled (then a new try is what the user wants); this holds for two sent at once too.
    """
    sha256 = sha256 or file_sha256(fileobj)
    if earlier := _earlier_upload(owner=owner, sha256=sha256):
        upload_log(owner=owner)
        logger.info("upload by %s is a duplicate of asset %s", owner.pk, earlier.asset_id)
        return UploadResult(job=earlier, duplicate=True)
    asset_id = uuid.uuid4()
    key = storage.original_key(asset_id)
    fileobj.seek(0)
    storage.save_stream(key, fileobj)
    upload_log(owner=owner)  # counted once storage took it: a 503 in an outage is not an upload
    with transaction.atomic():
        earlier = earlier_upload_locked(owner=owner, sha256=sha256)
        if earlier is None:
            job = asset_register(
                asset_id=asset_id,
                owner=owner,
                key=key,
                filename=filename,
                size_bytes=size_bytes,
                sha256=sha256,
                correlation_id=correlation_id,
            )
    if earlier is not None:
        storage.delete_key(key)  # the copy sent alongside won: this one is not needed
        logger.info("upload by %s was a duplicate of asset %s sent at the same time", owner.pk, earlier.asset_id)
        return UploadResult(job=earlier, duplicate=True)
    return UploadResult(job=job)


def file_sha256(fileobj: IO[bytes]) -> str:
    """The SHA-256 of a whole file, read chunk by chunk from the start."""
    fileobj.seek(0)
    return chunks_sha256(iter(lambda: fileobj.read(_CHUNK), b""))


def chunks_sha256(chunks: Iterable[bytes]) -> str:
    """The SHA-256 of the bytes `chunks` yield, never all held at once."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def upload_log(*, owner: AbstractBaseUser) -> None:
    """Note an upload begun, for the rate limit; notes older than its window are dropped."""
    UploadLog.objects.filter(owner=owner, created_at__lt=timezone.now() - timedelta(minutes=1)).delete()
    UploadLog.objects.create(owner=owner)


def asset_register(
    *,
    asset_id: uuid.UUID,
    owner: AbstractBaseUser,
    key: str,
    filename: str,
    size_bytes: int,
    sha256: str,
    correlation_id: str | None,
) -> Job:
    """Create the asset for a stored original and its job; the job is queued once this commits.

    The queued event starts it once this commits (tasks.on_job_event), so a worker never
    looks for a row that is not there yet.
    """
    with transaction.atomic():
        asset = Asset.objects.create(
            id=asset_id,
            owner=owner,
            original_key=key,
            original_filename=display_name(filename),
            size_bytes=size_bytes,
            sha256=sha256,
        )
        job = Job.objects.create(asset=asset, correlation_id=correlation_id or uuid.uuid4().hex)
        events.publish(job_id=job.id, type=JobEvent.Type.QUEUED, message="Uploaded; waiting for a worker.")
    logger.info("asset %s uploaded as job %s [%s]", asset.id, job.id, job.correlation_id)
    return job


def earlier_upload_locked(*, owner: AbstractBaseUser, sha256: str) -> Job | None:
    """The job of the owner's earlier upload of these bytes, if one counts (see asset_create).

    Call it inside transaction.atomic() and register a new asset in that same transaction:
    it takes the owner's registration lock, so a copy sent alongside (on any upload path)
    sees this one or is seen by it.
    """
    # PostgreSQL: this row lock; SQLite: its IMMEDIATE transactions.
    list(get_user_model().objects.select_for_update().filter(pk=owner.pk).values_list("pk"))
    return _earlier_upload(owner=owner, sha256=sha256)


def _earlier_upload(*, owner: AbstractBaseUser, sha256: str) -> Job | None:
    if not sha256:  # assets stored before every path hashed have none: no match to them
        return None
    for asset in Asset.objects.filter(owner=owner, sha256=sha256).order_by("-created_at"):
        job = asset.latest_job
        if job and job.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
            return job
    return None


def display_name(filename: str) -> str:
    # Kept for display only; still, no path parts and no control characters.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "upload"


def asset_update(
    *, asset_id: uuid.UUID | str, title: str | None = None, description: str | None = None, alt_text: str | None = None
) -> Asset:
    """Set the owner's words for an asset; None leaves a field as it is, "" clears it (an empty
    title shows the file name again). Longer than the model allows is a ServiceError (422)."""
    asset = Asset.objects.get(pk=asset_id)
    changes = {
        "title": None if title is None else _one_line(title),
        "description": None if description is None else description.strip(),
        "alt_text": None if alt_text is None else _one_line(alt_text),
    }
    for field, value in changes.items():
        if value is None:
            continue
        limit = Asset._meta.get_field(field).max_length
        if len(value) > limit:
            raise ServiceError(
                f"The {field.replace('_', ' ')} is longer than {limit} characters.", status=422, field=field
            )
        setattr(asset, field, value)
    asset.save(update_fields=[f for f, v in changes.items() if v is not None] + ["updated_at"])
    return asset


def asset_share(*, asset_id: uuid.UUID | str, shared: bool) -> Asset:
    """Turn the asset's unlisted share link (and embed) on or off. Off forgets the secret, so
    every link given out stops working; on again makes a new one."""
    asset = Asset.objects.get(pk=asset_id)
    if shared and not asset.share_token:
        asset.share_token = secrets.token_urlsafe(18)  # 24 characters, 144 random bits
    elif not shared:
        asset.share_token = ""
    asset.save(update_fields=["share_token", "updated_at"])
    return asset


def asset_poster_choose(*, asset_id: uuid.UUID | str, frame: str) -> Rendition:
    """Make one of the frames the encode took (Rendition.Kind.FRAME, by name) the poster."""
    if not Asset.objects.filter(pk=asset_id, kind=Asset.Kind.VIDEO).exists():
        raise ServiceError("Only a video has a poster to choose.", status=422, field="poster")
    try:
        chosen = Rendition.objects.get(asset_id=asset_id, kind=Rendition.Kind.FRAME, profile=frame)
    except Rendition.DoesNotExist:
        raise ServiceError(f"“{frame}” is not one of this video's frames.", status=422, field="poster") from None
    fields = ("storage_key", "width", "height", "size_bytes", "codec")
    posters = Rendition.objects.filter(asset_id=asset_id, kind=Rendition.Kind.POSTER)
    previous = posters.values_list("storage_key", flat=True).first()
    poster, _ = Rendition.objects.update_or_create(
        asset_id=asset_id,
        kind=Rendition.Kind.POSTER,
        profile="poster",
        defaults={name: getattr(chosen, name) for name in (*fields, "worker_hostname")},
    )
    Asset.objects.filter(pk=asset_id).update(updated_at=timezone.now())  # My media's ETag moves
    poster_file_discard(previous=previous, now=poster.storage_key)
    return poster


def _one_line(text: str) -> str:
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def asset_delete(*, asset_id: uuid.UUID | str) -> int:
    """Stop the asset's work, delete its stored files, then its rows. Returns the files deleted.

    Files go first: if deleting them fails, the asset is still listed and can be
    deleted again, instead of leaving objects nobody can find.
    """
    for job_id in (
        Job.objects.filter(asset_id=asset_id).exclude(status__in=Job.FINAL_STATUSES).values_list("id", flat=True)
    ):
        job_cancel(job_id=job_id, reason="The asset was deleted.")
    deleted = storage.delete_asset_files(asset_id)
    Asset.objects.filter(pk=asset_id).delete()
    logger.info("asset %s deleted with %d stored files", asset_id, deleted)
    return deleted


def asset_retry(*, asset_id: uuid.UUID | str) -> Job:
    """A new job for an asset whose last job failed or was cancelled (the owner's Retry)."""
    latest = Job.objects.filter(asset_id=asset_id).order_by("-created_at").first()
    if latest is None or latest.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
        raise ServiceError("Only a failed or cancelled job can be retried.", code="not_retryable", status=409)
    return asset_reprocess(asset_id=asset_id)


def asset_reprocess(*, asset_id: uuid.UUID | str) -> Job:
    """A new job for an asset whose last one ended: retry after a failure, or re-encode with today's ladder."""
    asset = Asset.objects.get(pk=asset_id)
    latest = asset.latest_job
    if latest is not None and not latest.is_final:
        raise ValueError("The asset is still being processed.")
    if latest is not None and latest.status == Job.Status.FAILED and not latest.retryable:
        # The file is the reason (not a format we read, over a limit, cut short): no new try helps.
        raise ServiceError(
            f"Trying again cannot help: {latest.error} Upload another file instead.", code="not_retryable", status=409
        )
    with transaction.atomic():
        job = Job.objects.create(asset=asset, correlation_id=uuid.uuid4().hex)
        events.publish(job_id=job.id, type=JobEvent.Type.QUEUED, message="Queued again (retry or re-encode).")
    return job
