"""Direct uploads: multipart to S3 from the browser or an API client, or in parts through
us on the filesystem backend. One protocol for both, shared by the upload page and the
API: start → part URLs (or PUT parts to us) → list parts to resume → complete or abort.
"""

from __future__ import annotations

import hashlib
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
from django.urls import reverse
from django.utils import timezone

from .. import selectors, storage
from ..models import Upload
from .assets import UploadResult, asset_register, display_name
from .errors import ServiceError

logger = logging.getLogger(__name__)

MAX_PARTS = 10_000  # S3's limit, kept on the filesystem backend too
MAX_PART_BYTES = 64 * 1024**2
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class PartTarget:
    """Where and how the client sends one part."""

    url: str
    method: str = "PUT"
    headers: dict[str, str] | None = None


def upload_check_allowed(*, owner: AbstractBaseUser, size_bytes: int) -> None:
    """The checks made before anything is stored: rate, declared size."""
    limit = settings.MEDIA_UPLOAD_RATE_PER_MINUTE
    if selectors.uploads_in_last_minute(user=owner) >= limit:
        raise ServiceError(
            f"Too many uploads: at most {limit} a minute. Try again in a minute.", code="rate_limited", status=429
        )
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


def upload_part_target(*, upload: Upload, part_number: int) -> PartTarget:
    """A URL for one part: presigned for S3 (valid a few minutes), or our own part endpoint."""
    _require_open(upload)
    _check_part_number(part_number)
    if upload.s3_upload_id:
        url = storage.multipart_part_url(
            upload.storage_key, upload.s3_upload_id, part_number, settings.MEDIA_PRESIGNED_EXPIRY_S
        )
        return PartTarget(url=url)
    return PartTarget(url=reverse("api-1:upload_part_put", args=[upload.id, part_number]))


def _parts_folder(upload: Upload) -> str:
    return f"uploads/{upload.id}"


def _part_key(upload: Upload, part_number: int) -> str:
    return f"{_parts_folder(upload)}/part-{part_number:05d}"


def upload_part_store(*, upload: Upload, part_number: int, stream: IO[bytes], size_bytes: int) -> storage.UploadedPart:
    """Keep one part sent through us (filesystem backend). Returns it with its MD5 as ETag, like S3."""
    _require_open(upload)
    _check_part_number(part_number)
    if upload.s3_upload_id:
        raise ServiceError("Parts of this upload go to object storage directly.", code="wrong_target", status=409)
    if not 0 < size_bytes <= MAX_PART_BYTES:
        raise ServiceError(f"A part holds 1 byte to {filesizeformat(MAX_PART_BYTES)}.", code="invalid_part")
    digest = hashlib.md5(usedforsecurity=False)
    reader = _HashingReader(stream, digest, limit=size_bytes)
    storage.save_stream(_part_key(upload, part_number), reader)
    if reader.read_bytes != size_bytes:
        raise ServiceError("The part ended before its declared length.", code="incomplete_part")
    return storage.UploadedPart(part_number, size_bytes, f'"{digest.hexdigest()}"')


def upload_parts(*, upload: Upload) -> list[storage.UploadedPart]:
    """The parts already received, so that an interrupted upload resumes after them."""
    _require_open(upload)
    if upload.s3_upload_id:
        return storage.multipart_parts(upload.storage_key, upload.s3_upload_id)
    parts = []
    for number in _stored_part_numbers(upload):
        key = _part_key(upload, number)
        digest = hashlib.md5(usedforsecurity=False)
        with storage.open_file(key) as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(chunk)
        parts.append(storage.UploadedPart(number, storage.size(key), f'"{digest.hexdigest()}"'))
    return parts


def _stored_part_numbers(upload: Upload) -> list[int]:
    """The numbers of the parts sent through us, in order (filesystem backend)."""
    folder = _parts_folder(upload)
    if not storage.exists(folder):
        return []
    return sorted(int(name.removeprefix("part-")) for name in storage.get_storage().listdir(folder)[1])


def upload_complete(*, upload: Upload, parts: Iterable[tuple[int, str]] = ()) -> UploadResult:
    """Join the parts, check the result, and create the asset and its job (queued after commit).

    Completing twice returns the first result, so a client may retry a completion
    whose answer it never got.
    """
    with transaction.atomic():
        upload = Upload.objects.select_for_update().get(pk=upload.pk)
        if upload.status == Upload.Status.COMPLETED:
            return UploadResult(job=upload.owner.assets.get(pk=upload.id).latest_job, duplicate=False)
        _require_open(upload)
        sha256 = ""
        if upload.s3_upload_id:
            listed = sorted(
                (storage.UploadedPart(int(n), 0, etag) for n, etag in parts), key=lambda p: p.number
            ) or storage.multipart_parts(upload.storage_key, upload.s3_upload_id)
            if not listed:
                raise ServiceError("No parts were uploaded.", code="empty_file")
            storage.multipart_complete(upload.storage_key, upload.s3_upload_id, listed)
        else:
            sha256 = _join_parts(upload)
        size = storage.size(upload.storage_key)
        problem = None
        if size == 0:
            problem = ServiceError("The file is empty.", code="empty_file")
        elif size > settings.MEDIA_MAX_UPLOAD_BYTES:
            problem = too_large(size)
        if problem:
            storage.delete_key(upload.storage_key)
            Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.ABORTED)
            raise problem
        Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.COMPLETED, completed_at=timezone.now())
        job = asset_register(
            asset_id=upload.id,
            owner=upload.owner,
            key=upload.storage_key,
            filename=upload.filename,
            size_bytes=size,
            sha256=sha256,
            correlation_id=upload.correlation_id,
        )
    logger.info("upload %s completed: %d bytes, job %s", upload.id, size, job.id)
    return UploadResult(job=job)


def _join_parts(upload: Upload) -> str:
    numbers = _stored_part_numbers(upload)
    if not numbers:
        raise ServiceError("No parts were uploaded.", code="empty_file")
    if numbers != list(range(1, len(numbers) + 1)):
        raise ServiceError("Some parts are missing.", code="missing_parts", status=409)
    digest = hashlib.sha256()
    joined = _JoinedParts([_part_key(upload, number) for number in numbers], digest)
    storage.save_stream(upload.storage_key, joined)
    for number in numbers:
        storage.delete_key(_part_key(upload, number))
    return digest.hexdigest()


def upload_abort(*, upload: Upload) -> None:
    """Drop an unfinished upload and whatever parts arrived. Aborting twice is harmless."""
    if upload.status != Upload.Status.OPEN:
        return
    if upload.s3_upload_id:
        storage.multipart_abort(upload.storage_key, upload.s3_upload_id)
    else:
        for number in _stored_part_numbers(upload):
            storage.delete_key(_part_key(upload, number))
    Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.ABORTED)
    logger.info("upload %s aborted", upload.id)


def uploads_abort_stale(*, older_than_s: int) -> int:
    """Abort direct uploads left open longer than `older_than_s` (the browser went away for good)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    stale = list(Upload.objects.filter(status=Upload.Status.OPEN, created_at__lt=cutoff)[:1000])
    for upload in stale:
        upload_abort(upload=upload)
    return len(stale)


class _HashingReader:
    """A file-like view of at most `limit` bytes of a stream, hashed as it is read."""

    def __init__(self, stream: IO[bytes], digest, limit: int):
        self._stream, self._digest, self._left = stream, digest, limit
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._stream.read(size)
        self._left -= len(data)
        self.read_bytes += len(data)
        self._digest.update(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:  # storage backends rewind before reading
        if offset != 0 or whence != 0 or self.read_bytes:
            raise OSError("not seekable")
        return 0

    def tell(self) -> int:
        return self.read_bytes


class _JoinedParts(_HashingReader):
    """The stored parts, read one after another as one stream."""

    def __init__(self, keys: list[str], digest):
        self._keys, self._current = iter(keys), None
        super().__init__(stream=None, digest=digest, limit=1 << 62)  # type: ignore[arg-type]

    def read(self, size: int = -1) -> bytes:
        while True:
            if self._current is None:
                key = next(self._keys, None)
                if key is None:
                    return b""
                self._current = storage.open_file(key)
            data = self._current.read(_CHUNK if size is None or size < 0 else size)
            if data:
                self.read_bytes += len(data)
                self._digest.update(data)
                return data
            self._current.close()
            self._current = None
