"""Object storage: deterministic keys and file transfer, over one interface with two backends
(base.FilesystemBackend, the embedded default, and s3.S3Backend), chosen from the configured
default storage. Callers use these functions and never ask which backend is in use."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files.storage import Storage, storages
from storages.backends.s3 import S3Storage

from .base import Backend, FilesystemBackend, MultipartRefused, StorageUnavailable, UploadedPart
from .keys import (
    AREAS,
    CHUNKS,
    HLS,
    IMAGES,
    ORIGINALS,
    RENDITIONS,
    THUMBS,
    asset_key,
    asset_prefix,
    content_type_for,
    original_key,
    tree_keys,
)
from .s3 import S3Backend, transient_as_unavailable

__all__ = [
    "AREAS",
    "CHUNKS",
    "HLS",
    "IMAGES",
    "ORIGINALS",
    "RENDITIONS",
    "THUMBS",
    "MultipartRefused",
    "StorageUnavailable",
    "UploadedPart",
    "asset_key",
    "content_type_for",
    "original_key",
    "tree_keys",
]


def get_storage() -> Storage:
    """The default storage, looked up each time so that tests can switch STORAGES."""
    return storages["default"]


def backend() -> Backend:
    """The backend of the configured default storage: the one place that tells S3 from the filesystem."""
    storage = get_storage()
    if isinstance(storage, S3Storage):
        return S3Backend(storage, public=storages["public"] if "public" in settings.STORAGES else storage)
    return FilesystemBackend(storage)


def connect() -> None:
    """Make this thread's storage client now instead of in the first transfer that needs it."""
    backend().connect()


def save_stream(key: str, fileobj: IO[bytes]) -> None:
    backend().save_stream(key, fileobj)


def upload_file(path: Path, key: str) -> None:
    backend().upload_files({path: key})


def upload_files(files: dict[Path, str]) -> None:
    """Upload each path to its key (a few at a time on S3)."""
    backend().upload_files(files)


def replace_file(path: Path, key: str) -> None:
    """Store `path` at `key` so that a reader sees the old file or the new one whole, never part
    of one: a playlist rewritten while players read it."""
    backend().replace_file(path, key)


def download_file(key: str, path: Path) -> None:
    backend().download_files({key: path})


def download_files(files: dict[str, Path]) -> None:
    """Download each key to its path (a few at a time on S3)."""
    backend().download_files(files)


def rename(source: str, target: str) -> None:
    """Move a stored file so that `target` never holds a partly written one."""
    backend().rename(source, target)


# Through the plain storage API on both backends; S3 out of reach is StorageUnavailable here too.


def open_file(key: str) -> IO[bytes]:
    with transient_as_unavailable(f"opening {key}"):
        return get_storage().open(key, "rb")


def read_bytes(key: str) -> bytes:
    """A small file whole, in one read (a playlist); FileNotFoundError if there is none."""
    with transient_as_unavailable(f"reading {key}"):
        return backend().read_bytes(key)


def read_chunks(key: str) -> Iterator[bytes]:
    """A stored file read from the start a chunk at a time, never whole into memory (an
    original of many GB); S3 out of reach is StorageUnavailable."""
    return backend().read_chunks(key)


def read_range(key: str, start: int, length: int) -> bytes:
    """`length` bytes of a stored file from `start` (fewer where it ends first), in one read;
    FileNotFoundError if there is none, StorageUnavailable if S3 is out of reach."""
    with transient_as_unavailable(f"reading {key}"):
        return backend().read_range(key, start, length)


def read_range_chunks(key: str, start: int, length: int) -> Iterator[bytes]:
    """The same bytes a chunk at a time, from one open file or one ranged GET."""
    return backend().read_range_chunks(key, start, length)


def delete_key(key: str) -> None:
    with transient_as_unavailable(f"deleting {key}"):
        get_storage().delete(key)


def size(key: str) -> int:
    with transient_as_unavailable(f"measuring {key}"):
        return get_storage().size(key)


def exists(key: str) -> bool:
    with transient_as_unavailable(f"looking for {key}"):
        return get_storage().exists(key)


def browser_origin() -> str | None:
    """The origin browsers fetch stored files from when it is not ours (S3), for the CSP."""
    return backend().browser_origin()


def presigned_url(key: str, *, filename: str | None = None, expires_s: int | None = None) -> str | None:
    """A short-lived URL the browser can fetch directly, where the backend has one (S3); with
    `filename`, the browser saves it under that name; valid `expires_s` (else S3_PRESIGNED_EXPIRY_S)."""
    return backend().presigned_url(key, filename=filename, expires_s=expires_s)


def delete_asset_files(asset_id: uuid.UUID | str) -> int:
    """Delete every stored object of an asset, in every area. Returns how many were deleted."""
    return sum(delete_prefix(area, asset_id) for area in AREAS)


def delete_prefix(area: str, asset_id: uuid.UUID | str) -> int:
    """Delete everything an asset has in one area. Returns how many objects were deleted."""
    return backend().delete_prefix(asset_prefix(area, asset_id))


def delete_under(directory_key: str) -> int:
    """Delete every object under a directory of keys (`hls/<asset>/video/720p-h264`)."""
    return backend().delete_prefix(directory_key.rstrip("/") + "/")


def abort_incomplete_uploads(*, older_than_s: int) -> int:
    """Abort storage-side multipart uploads started more than `older_than_s` ago."""
    return backend().abort_incomplete_uploads(older_than_s=older_than_s)


def bucket_name() -> str:
    return get_storage().bucket_name


def bucket_ensure() -> bool:
    """Create the bucket when it is missing (a new MinIO or S3 account). True if it was created."""
    return backend().bucket_ensure()


def bucket_cors_ensure(origins: list[str]) -> None:
    backend().bucket_cors_ensure(origins)


def use_worker_client_config() -> None:
    """As a worker starts, before its first storage call (its pool's processes inherit it)."""
    backend().use_worker_client_config()


def multipart_supported() -> bool:
    """Whether browsers upload straight to the storage (S3) rather than through us."""
    return backend().multipart


def multipart_start(key: str) -> str:
    return backend().multipart_start(key)


def multipart_part_url(key: str, upload_id: str, part_number: int, size_bytes: int, expires_s: int) -> str:
    return backend().multipart_part_url(key, upload_id, part_number, size_bytes, expires_s)


def multipart_parts(key: str, upload_id: str) -> list[UploadedPart]:
    return backend().multipart_parts(key, upload_id)


def multipart_complete(key: str, upload_id: str, parts: list[UploadedPart]) -> None:
    backend().multipart_complete(key, upload_id, parts)


def multipart_abort(key: str, upload_id: str) -> None:
    backend().multipart_abort(key, upload_id)
