"""Direct uploads: multipart to S3 from the browser or an API client, or in parts through
us on the filesystem backend. One protocol for both, shared by the upload page and the
API: start → part URLs (or PUT parts to us) → list parts to resume → complete or abort.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from .. import selectors, storage
from ..models import Upload
from . import upload_parts
from .assets import UploadResult, asset_register, chunks_sha256, display_name, earlier_upload_locked, upload_log
from .errors import ServiceError

logger = logging.getLogger(__name__)

MAX_PARTS = 10_000  # S3's limit, kept on the filesystem backend too
MAX_PART_BYTES = upload_parts.MAX_PART_BYTES
# What S3 says when it refuses a completion, as our error codes.
_REFUSED = {"EntityTooSmall": "part_too_small", "InvalidPartOrder": "invalid_part", "MalformedXML": "invalid_part"}


@dataclass(frozen=True)
class PartTarget:
    """Where and how the client sends one part: a presigned S3 URL, or (empty) our own part endpoint."""

    url: str = ""
    method: str = "PUT"
    headers: dict[str, str] | None = None


def upload_check_rate(*, owner: AbstractBaseUser) -> None:
    """At most MEDIA_UPLOAD_RATE_PER_MINUTE uploads begun a minute per user, by any path (429)."""
    limit = settings.MEDIA_UPLOAD_RATE_PER_MINUTE
    if selectors.uploads_in_last_minute(user=owner) >= limit:
        raise ServiceError(
            f"Too many uploads: at most {limit} a minute. Try again in a minute.", code="rate_limited", status=429
        )


def upload_check_allowed(*, owner: AbstractBaseUser, size_bytes: int) -> None:
    """The checks made before anything is stored: rate, declared size."""
    upload_check_rate(owner=owner)
    if size_bytes <= 0:
        raise ServiceError("The file is empty.", code="empty_file", field="size")
    if size_bytes > settings.MEDIA_MAX_UPLOAD_BYTES:
        raise too_large(size_bytes, field="size")


def too_large(size_bytes: int, field: str | None = None) -> ServiceError:
    limit = filesizeformat(settings.MEDIA_MAX_UPLOAD_BYTES)
    return ServiceError(
        f"The file is {filesizeformat(size_bytes)}; the limit is {limit}.", code="too_large", status=413, field=field
    )


def upload_start(
    *, owner: AbstractBaseUser, filename: str, size_bytes: int, correlation_id: str | None = None
) -> Upload:
    upload_check_allowed(owner=owner, size_bytes=size_bytes)
    upload_id = uuid.uuid4()
    key = storage.original_key(upload_id)
    s3_upload_id = storage.multipart_start(key) if storage.multipart_supported() else ""
    upload_log(owner=owner)  # counted once storage took it: a 503 in an outage is not an upload
    upload = Upload.objects.create(
        id=upload_id,
        owner=owner,
        filename=display_name(filename),
        size_bytes=size_bytes,
        storage_key=key,
        s3_upload_id=s3_upload_id,
        correlation_id=correlation_id or uuid.uuid4().hex,
    )
    logger.info("upload %s started by %s (%d bytes)", upload.id, owner.pk, size_bytes)
    return upload


def _require_open(upload: Upload) -> None:
    if upload.status != Upload.Status.OPEN:
        raise ServiceError(f"This upload is {upload.get_status_display().lower()}.", code="upload_closed", status=409)


def _check_part_number(part_number: int) -> None:
    if not 1 <= part_number <= MAX_PARTS:
        raise ServiceError(f"Part numbers go from 1 to {MAX_PARTS}.", code="invalid_part", field="part_number")


def upload_part_target(*, upload: Upload, part_number: int, size_bytes: int | None = None) -> PartTarget:
    """A URL for one part of `size_bytes`: presigned for S3 for that length (valid a few
    minutes), or our own part endpoint (which checks the length itself)."""
    _require_open(upload)
    _check_part_number(part_number)
    if size_bytes is not None:
        upload_parts.part_size_check(upload=upload, size_bytes=size_bytes)
    if upload.s3_upload_id:
        if size_bytes is None:
            raise ServiceError("Give the part's size in bytes (?size=) to get its URL.", code="invalid", field="size")
        url = storage.multipart_part_url(
            upload.storage_key, upload.s3_upload_id, part_number, size_bytes, settings.MEDIA_PRESIGNED_EXPIRY_S
        )
        return PartTarget(url=url)
    return PartTarget()


def upload_part_store(*, upload: Upload, part_number: int, stream: IO[bytes], size_bytes: int) -> storage.UploadedPart:
    """Keep one part sent through us (filesystem backend), whole or not at all. Returns it
    with its MD5 as ETag, like S3."""
    _require_open(upload)
    _check_part_number(part_number)
    if upload.s3_upload_id:
        raise ServiceError("Parts of this upload go to object storage directly.", code="wrong_target", status=409)
    return upload_parts.part_store(upload=upload, part_number=part_number, stream=stream, size_bytes=size_bytes)


def upload_parts_received(*, upload: Upload) -> list[storage.UploadedPart]:
    """The whole parts already received, so that an interrupted upload resumes after them."""
    _require_open(upload)
    if upload.s3_upload_id:
        return storage.multipart_parts(upload.storage_key, upload.s3_upload_id)
    return upload_parts.parts_stored(upload=upload)


def upload_complete(*, upload: Upload, parts: Iterable[tuple[int, str]] = ()) -> UploadResult:
    """Join the parts, check the result, and create the asset and its job (queued after commit).

    The upload is claimed first (open → completing) and joined outside any transaction, so a
    long join holds no database lock. The same bytes uploaded before by the same owner (on any
    path) make no second asset: the answer is the earlier one, marked duplicate, and the joined
    copy is deleted. Completing twice returns the first result, so a client may retry a
    completion whose answer it never got; one still joining answers 409.
    """
    if not Upload.objects.filter(pk=upload.pk, status=Upload.Status.OPEN).update(status=Upload.Status.COMPLETING):
        return _answered_before(upload)
    sent = list(parts)
    if len({n for n, _ in sent}) != len(sent):
        _release(upload)
        raise ServiceError("A part is listed twice.", code="invalid_part", field="parts")
    sha256 = _join(upload, sent)
    result = _register(upload, sha256)
    if result is None:  # aborted as stale while it was joining: nothing to register
        storage.delete_key(upload.storage_key)
        raise ServiceError("This upload was aborted.", code="upload_closed", status=409)
    if result.duplicate:  # the owner has these bytes already: the copy goes
        storage.delete_key(upload.storage_key)
        logger.info("upload %s by %s is a duplicate of asset %s", upload.id, upload.owner_id, result.job.asset_id)
        return result
    logger.info("upload %s completed: %d bytes, job %s", upload.id, upload.size_bytes, result.job.id)
    return result


def _answered_before(upload: Upload) -> UploadResult:
    """The answer to a completion of an upload that is no longer open: the first one's, if it
    completed; 409 while another completion joins it, or once it was aborted."""
    upload.refresh_from_db()
    if upload.status == Upload.Status.COMPLETED:
        if upload.asset is None:
            raise ServiceError(
                "This upload was completed; what it became has since been deleted.", code="upload_closed", status=409
            )
        return UploadResult(job=upload.asset.latest_job, duplicate=upload.asset_id != upload.id)
    if upload.status == Upload.Status.ABORTED:
        _require_open(upload)
    raise ServiceError("This upload is being completed; ask again in a moment.", code="upload_completing", status=409)


def _join(upload: Upload, sent: list[tuple[int, str]]) -> str:
    """_assemble, returning the whole file's SHA-256. A failure gives the claim back if nothing
    was joined, and drops the upload if what was joined must not become an asset."""
    try:
        return _assemble(upload, sent)
    except _Joined as joined:  # the object exists but is not the declared file: it goes, and so does the upload
        storage.delete_key(upload.storage_key)
        Upload.objects.filter(pk=upload.pk, status=Upload.Status.COMPLETING).update(status=Upload.Status.ABORTED)
        raise joined.problem from None
    except BaseException:
        _release(upload)  # nothing was joined: the client may fix what it sent and complete again
        raise


def _register(upload: Upload, sha256: str) -> UploadResult | None:
    """Mark the upload completed as a new asset, or as the owner's earlier one with the same
    bytes; None if it was aborted meanwhile (nothing registered)."""
    with transaction.atomic():
        earlier = earlier_upload_locked(owner=upload.owner, sha256=sha256)
        if not Upload.objects.filter(pk=upload.pk, status=Upload.Status.COMPLETING).update(
            status=Upload.Status.COMPLETED, completed_at=timezone.now(), asset_id=earlier.asset_id if earlier else None
        ):
            return None
        if earlier is not None:
            return UploadResult(job=earlier, duplicate=True)
        job = asset_register(
            asset_id=upload.id,
            owner=upload.owner,
            key=upload.storage_key,
            filename=upload.filename,
            size_bytes=upload.size_bytes,
            sha256=sha256,
            correlation_id=upload.correlation_id,
        )
        Upload.objects.filter(pk=upload.pk).update(asset_id=job.asset_id)
    return UploadResult(job=job)


def _release(upload: Upload) -> None:
    """Give back the claim of a completion that joined nothing."""
    Upload.objects.filter(pk=upload.pk, status=Upload.Status.COMPLETING).update(status=Upload.Status.OPEN)


class _Joined(Exception):
    """The parts were joined into an object that must not become an asset."""

    def __init__(self, problem: ServiceError):
        super().__init__(problem.message)
        self.problem = problem


def _assemble(upload: Upload, sent: list[tuple[int, str]]) -> str:
    """Join the parts into the upload's key and check the whole. Returns its SHA-256: hashed
    while joining (filesystem), else read back (S3 joins the parts itself). Raises ServiceError
    before the join, _Joined after."""
    sha256 = ""
    if upload.s3_upload_id:
        listed = sorted(
            (storage.UploadedPart(int(n), 0, etag) for n, etag in sent), key=lambda p: p.number
        ) or storage.multipart_parts(upload.storage_key, upload.s3_upload_id)
        if not listed:
            raise ServiceError("No parts were uploaded.", code="empty_file")
        try:
            storage.multipart_complete(upload.storage_key, upload.s3_upload_id, listed)
        except storage.MultipartRefused as refused:
            raise ServiceError(
                f"Object storage refused the parts: {refused}", code=_REFUSED.get(refused.code, "invalid_part")
            ) from refused
    else:
        sha256 = upload_parts.parts_join(upload=upload, parts=upload_parts.parts_check(upload=upload, sent=sent))
    size = storage.size(upload.storage_key)
    if size > settings.MEDIA_MAX_UPLOAD_BYTES:
        raise _Joined(too_large(size))
    if size != upload.size_bytes:
        raise _Joined(
            ServiceError(
                f"The parts add up to {size} bytes; the upload was declared as {upload.size_bytes}.",
                code="size_mismatch",
            )
        )
    return sha256 or chunks_sha256(storage.read_chunks(upload.storage_key))


def upload_abort(*, upload: Upload, statuses: tuple[str, ...] = (Upload.Status.OPEN,)) -> None:
    """Drop an unfinished upload and whatever parts arrived. Aborting twice is harmless; a
    completed upload is an asset now, and is deleted as one (ServiceError 409)."""
    if not Upload.objects.filter(pk=upload.pk, status__in=statuses).update(status=Upload.Status.ABORTED):
        if Upload.objects.filter(pk=upload.pk, status=Upload.Status.COMPLETED).exists():
            raise ServiceError(
                "This upload is completed: delete its asset instead (DELETE /api/v1/assets/{id}).",
                code="upload_completed",
                status=409,
            )
        return
    if upload.s3_upload_id:
        storage.multipart_abort(upload.storage_key, upload.s3_upload_id)
    else:
        upload_parts.parts_drop(upload=upload)
    logger.info("upload %s aborted", upload.id)


def uploads_abort_stale(*, older_than_s: int) -> int:
    """Abort direct uploads left open (the browser went away for good) or left completing (the
    process died joining) longer than `older_than_s`. One that fails is logged and skipped."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    unfinished = (Upload.Status.OPEN, Upload.Status.COMPLETING)
    aborted = 0
    for upload in Upload.objects.filter(status__in=unfinished, created_at__lt=cutoff)[:1000]:
        try:
            upload_abort(upload=upload, statuses=unfinished)
        except Exception:
            logger.exception("could not abort stale upload %s; going on with the others", upload.id)
        else:
            aborted += 1
    return aborted


def uploads_abort_incomplete(*, older_than_s: int) -> None:
    """Direct uploads abandoned for `older_than_s`, then any multipart upload the storage still
    holds from before then (S3 bills parts nobody will complete)."""
    uploads_abort_stale(older_than_s=older_than_s)
    storage.abort_incomplete_uploads(older_than_s=older_than_s)
