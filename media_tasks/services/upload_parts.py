"""The part store of direct uploads on the filesystem backend: parts PUT to us, kept as files
until the completion joins them. A part is kept only whole: it is written under a temporary
name and renamed into place once its declared length has arrived, and its name carries its
MD5 (the ETag), so listing and completion need not read the parts back.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import IO

from django.template.defaultfilters import filesizeformat

from .. import storage
from ..models import Upload
from .errors import ServiceError

MAX_PART_BYTES = 64 * 1024**2
_CHUNK = 1024 * 1024
_PART_NAME = re.compile(r"^part-(\d{5})-([0-9a-f]{32})$")


def part_size_check(*, upload: Upload, size_bytes: int, others_bytes: int = 0) -> None:
    """Refuse a part the declared size cannot hold (with `others_bytes` already received)."""
    if size_bytes <= 0:
        raise ServiceError("A part holds at least 1 byte.", code="invalid_part", field="size")
    if size_bytes > MAX_PART_BYTES:
        raise ServiceError(
            f"A part holds at most {filesizeformat(MAX_PART_BYTES)}.", code="part_too_large", status=413, field="size"
        )
    if others_bytes + size_bytes > upload.size_bytes:
        raise ServiceError(
            f"This part would take the upload past its declared size ({filesizeformat(upload.size_bytes)}).",
            code="part_too_large",
            status=413,
            field="size",
        )


def _folder(upload: Upload) -> str:
    return f"uploads/{upload.id}"


def part_store(*, upload: Upload, part_number: int, stream: IO[bytes], size_bytes: int) -> storage.UploadedPart:
    """Keep one part if all `size_bytes` of it arrive; a part cut off mid-body leaves nothing."""
    stored = parts_stored(upload=upload)
    part_size_check(
        upload=upload, size_bytes=size_bytes, others_bytes=sum(p.size for p in stored if p.number != part_number)
    )
    digest = hashlib.md5(usedforsecurity=False)
    reader = HashingReader(stream, digest, limit=size_bytes)
    incoming = f"{_folder(upload)}/incoming-{part_number:05d}-{uuid.uuid4().hex}"
    try:
        storage.save_stream(incoming, reader)
        if reader.read_bytes != size_bytes:
            raise ServiceError(
                f"The part ended after {reader.read_bytes} of its {size_bytes} bytes; send it again.",
                code="incomplete_part",
            )
        etag = digest.hexdigest()
        storage.rename(incoming, f"{_folder(upload)}/part-{part_number:05d}-{etag}")
    finally:
        storage.delete_key(incoming)  # already renamed away unless the body was cut off
    for old in stored:  # a part sent again replaces the earlier one
        if old.number == part_number and old.etag.strip('"') != etag:
            storage.delete_key(_key(upload, old))
    return storage.UploadedPart(part_number, size_bytes, f'"{etag}"')


def _key(upload: Upload, part: storage.UploadedPart) -> str:
    etag = part.etag.strip('"')
    return f"{_folder(upload)}/part-{part.number:05d}-{etag}"


def parts_stored(*, upload: Upload) -> list[storage.UploadedPart]:
    """The whole parts received, in order (a part in flight has a temporary name and is not listed)."""
    folder = _folder(upload)
    if not storage.exists(folder):
        return []
    by_number: dict[int, storage.UploadedPart] = {}
    for name in sorted(storage.get_storage().listdir(folder)[1]):
        if match := _PART_NAME.match(name):
            number = int(match[1])
            by_number[number] = storage.UploadedPart(number, storage.size(f"{folder}/{name}"), f'"{match[2]}"')
    return [by_number[number] for number in sorted(by_number)]


def parts_check(*, upload: Upload, sent: list[tuple[int, str]]) -> list[storage.UploadedPart]:
    """The parts to join: all received, numbered 1..n, adding up to the declared size, and,
    when the client lists them, exactly the ones it lists with the ETags it was given."""
    stored = parts_stored(upload=upload)
    if not stored:
        raise ServiceError("No parts were uploaded.", code="empty_file")
    if [p.number for p in stored] != list(range(1, len(stored) + 1)):
        raise ServiceError("Some parts are missing.", code="missing_parts", status=409)
    if sent:
        etags = {p.number: p.etag.strip('"') for p in stored}
        if sorted(n for n, _ in sent) != sorted(etags) or any(etags.get(n) != etag.strip('"') for n, etag in sent):
            raise ServiceError(
                "The parts listed are not the parts received (a part missing, listed twice, or with another ETag).",
                code="invalid_part",
                field="parts",
            )
    total = sum(p.size for p in stored)
    if total != upload.size_bytes:
        raise ServiceError(
            f"The parts add up to {total} bytes; the upload was declared as {upload.size_bytes}.",
            code="size_mismatch",
        )
    return stored


def parts_join(*, upload: Upload, parts: list[storage.UploadedPart]) -> str:
    """Join the parts into the upload's key and drop what was received (with any body left
    cut off by a process that died). Returns the SHA-256 of the whole."""
    digest = hashlib.sha256()
    storage.save_stream(upload.storage_key, JoinedParts([_key(upload, p) for p in parts], digest))
    parts_drop(upload=upload)
    return digest.hexdigest()


def parts_drop(*, upload: Upload) -> None:
    """Delete whatever was received of an upload, whole parts and cut-off ones."""
    folder = _folder(upload)
    if storage.exists(folder):
        for name in storage.get_storage().listdir(folder)[1]:
            storage.delete_key(f"{folder}/{name}")


class HashingReader:
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


class JoinedParts(HashingReader):
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
