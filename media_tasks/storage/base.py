"""The storage interface, implemented over Django's storage API. The filesystem backend is this
as it is; the S3 backend (s3.py) replaces the transfers with boto3's and adds what only S3 has:
presigned URLs and multipart uploads straight from the browser."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.core.files import File
from django.core.files.storage import Storage

_CHUNK = 1024 * 1024


class StorageUnavailable(ConnectionError):
    """Storage could not be reached or answered 5xx: worth retrying later, unlike a 4xx."""


class MultipartRefused(ValueError):
    """S3 refused to complete a multipart upload for something the client sent (a part
    missing or with another ETag, parts out of order, a part under 5 MiB)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class UploadedPart:
    number: int
    size: int
    etag: str


class Backend:
    """Files by key through a Django storage. Subclasses override what their service does better."""

    # Whether browsers upload straight to the storage (S3) rather than through us.
    multipart: bool = False

    def __init__(self, storage: Storage):
        self.storage = storage

    def connect(self) -> None:
        """Prepare what the first transfer would otherwise make (nothing here)."""

    def use_worker_client_config(self) -> None:
        """A worker's client waits longer than the web's (S3); the filesystem has no client."""

    def bucket_ensure(self) -> bool:
        """Create the bucket if missing; True if created. The filesystem has none to create."""
        return False

    def save_stream(self, key: str, fileobj: IO[bytes]) -> None:
        """Store a file-like object chunk by chunk (it is never read whole into memory)."""
        stored = self.storage.save(key, File(fileobj))
        if stored != key:  # pragma: no cover - allow_overwrite keeps keys as given
            raise RuntimeError(f"storage renamed {key} to {stored}")

    def upload_files(self, files: dict[Path, str]) -> None:
        for path, key in files.items():
            with path.open("rb") as fh:
                self.save_stream(key, fh)

    def download_files(self, files: dict[str, Path]) -> None:
        for key, path in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            with self.storage.open(key, "rb") as src, path.open("wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)

    def read_bytes(self, key: str) -> bytes:
        """A small file whole (a playlist); FileNotFoundError if there is none."""
        with self.storage.open(key, "rb") as fh:
            return fh.read()

    def read_chunks(self, key: str) -> Iterator[bytes]:
        """A file of any size, from the start, a chunk at a time."""
        with self.storage.open(key, "rb") as fh:
            yield from iter(lambda: fh.read(_CHUNK), b"")

    def read_range(self, key: str, start: int, length: int) -> bytes:
        """`length` bytes of a file from `start` (fewer where it ends first); FileNotFoundError if none."""
        return b"".join(self.read_range_chunks(key, start, length))

    def read_range_chunks(self, key: str, start: int, length: int) -> Iterator[bytes]:
        """The same bytes a chunk at a time: one open file (one ranged GET on S3) for a long span."""
        with self.storage.open(key, "rb") as fh:
            fh.seek(start)
            while length > 0 and (data := fh.read(min(_CHUNK, length))):
                length -= len(data)
                yield data

    def replace_file(self, path: Path, key: str) -> None:
        """Written beside, then renamed over `key` in one step."""
        partial = f"{key}.part"
        self.upload_files({path: partial})
        self.rename(partial, key)

    def rename(self, source: str, target: str) -> None:
        """Move in one step (the filesystem's rename): `target` never holds a partly written file."""
        source_path, target_path = Path(self.storage.path(source)), Path(self.storage.path(target))
        target_path.parent.mkdir(parents=True, exist_ok=True)
        source_path.replace(target_path)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every file under `prefix` (ending in "/"); returns how many."""
        return self._delete_tree(prefix.rstrip("/"))

    def _delete_tree(self, path: str) -> int:
        if not self.storage.exists(path):
            return 0
        folders, files = self.storage.listdir(path)
        for name in files:
            self.storage.delete(f"{path}/{name}")
        deleted = len(files) + sum(self._delete_tree(f"{path}/{folder}") for folder in folders)
        with contextlib.suppress(OSError, NotImplementedError):  # a folder a file was added to since stays
            os.rmdir(self.storage.path(path))
        return deleted

    def browser_origin(self) -> str | None:
        """Where browsers fetch stored files from, other than our own origin (None: only ours)."""
        return None

    def presigned_url(self, key: str, *, filename: str | None = None, expires_s: int | None = None) -> str | None:
        """A short-lived URL a browser can fetch directly, where the backend has one."""
        return None

    def abort_incomplete_uploads(self, *, older_than_s: int) -> int:
        """Nothing to do: Django removes the filesystem's partial files itself."""
        return 0

    def bucket_cors_ensure(self, origins: list[str]) -> None:
        """Only a bucket has a CORS rule."""


class FilesystemBackend(Backend):
    """The embedded default: files under MEDIA_ROOT; parts of direct uploads come through our API."""
