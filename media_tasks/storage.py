"""Object storage: deterministic keys and file transfer through Django's storage API.

S3 (django-storages, MinIO in docker-compose) or the filesystem default. Large
transfers to and from S3 use boto3's managed transfer (multipart, concurrent);
everything else goes through the plain storage API. What only S3 has (its errors,
client timeouts, the bucket, multipart uploads) lives in storage_s3 and is named here too.
"""

from __future__ import annotations

import concurrent.futures
import mimetypes
import re
import shutil
import uuid
from pathlib import Path
from typing import IO

from boto3.s3.transfer import TransferConfig
from django.core.files import File
from django.core.files.storage import Storage, storages

from .storage_s3 import (  # noqa: F401  (the public names of storage, defined with the S3 details)
    MultipartRefused,
    StorageUnavailable,
    UploadedPart,
    abort_incomplete_uploads,
    bucket_cors_ensure,
    bucket_ensure,
    bucket_name,
    for_browsers,
    is_s3,
    multipart_abort,
    multipart_complete,
    multipart_part_url,
    multipart_parts,
    multipart_start,
    multipart_supported,
    transient_as_unavailable,
    use_worker_client_config,
)
from .storage_s3 import client as _client

ORIGINALS = "originals"
RENDITIONS = "renditions"
HLS = "hls"
THUMBS = "thumbs"
IMAGES = "images"
# Pieces of a chunked encode, waiting to be joined (deleted after the join).
CHUNKS = "chunks"
AREAS = (ORIGINALS, RENDITIONS, HLS, THUMBS, IMAGES, CHUNKS)

# A file name inside an asset's area: server-made names only (letters, digits,
# dot, dash, underscore, one level of folders for HLS variants).
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)?$")

_PARALLEL_TRANSFERS = 4
_TRANSFER = TransferConfig(multipart_threshold=16 * 1024**2, multipart_chunksize=16 * 1024**2, max_concurrency=4)
_CHUNK = 1024 * 1024

mimetypes.add_type("application/vnd.apple.mpegurl", ".m3u8")
mimetypes.add_type("video/mp2t", ".ts")
mimetypes.add_type("text/vtt", ".vtt")
mimetypes.add_type("image/webp", ".webp")


def get_storage() -> Storage:
    """The default storage, looked up each time so that tests can switch STORAGES."""
    return storages["default"]


def connect() -> None:
    """Make this thread's S3 client now instead of in the first transfer that needs it.

    django-storages makes one per thread, lazily, and making one loads botocore's S3 model
    from disk: 0.15 to 0.25 s of CPU on a 2-core worker, which a fresh pool process used to
    spend inside its first job. Nothing is sent to S3, so an outage does not hold this up."""
    if is_s3(get_storage()):
        _client()


def asset_key(area: str, asset_id: uuid.UUID | str, name: str) -> str:
    """`<area>/<asset-uuid>/<name>`, e.g. `renditions/<uuid>/720p.mp4`."""
    if area not in AREAS or not _NAME.match(name) or ".." in name:
        raise ValueError(f"not a storage name: {area}/{name}")
    return f"{area}/{uuid.UUID(str(asset_id))}/{name}"


def original_key(asset_id: uuid.UUID | str) -> str:
    # No extension: the upload's name is not trusted, and the probe's verdict
    # lives on the Asset rather than in a key that would have to be renamed.
    return asset_key(ORIGINALS, asset_id, "source")


def content_type_for(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def save_stream(key: str, fileobj: IO[bytes]) -> None:
    """Store a file-like object chunk by chunk (it is never read whole into memory)."""
    storage = get_storage()
    if is_s3(storage):
        fileobj.seek(0)
        with transient_as_unavailable(f"storing {key}"):
            storage.bucket.Object(key).upload_fileobj(
                fileobj, ExtraArgs={"ContentType": "application/octet-stream"}, Config=_TRANSFER
            )
        return
    stored = storage.save(key, File(fileobj))
    if stored != key:  # pragma: no cover - allow_overwrite keeps keys as given
        raise RuntimeError(f"storage renamed {key} to {stored}")


def upload_file(path: Path, key: str) -> None:
    upload_files({path: key})


def upload_files(files: dict[Path, str]) -> None:
    """Upload each path to its key. On S3 a few at a time through one client (boto3 clients are
    thread-safe; a new session per thread costs more than a small file): many small files (HLS
    segments) are bound by request latency, not bandwidth."""
    storage = get_storage()
    if not is_s3(storage):
        for path, key in files.items():
            with path.open("rb") as fh:
                save_stream(key, fh)
        return
    client, bucket = storage.connection.meta.client, storage.bucket_name

    def put(path: Path, key: str) -> None:
        with transient_as_unavailable(f"storing {key}"):
            extra = {"ContentType": content_type_for(path.name)}
            client.upload_file(str(path), bucket, key, ExtraArgs=extra, Config=_TRANSFER)

    _side_by_side(put, files.items())


def _side_by_side(fn, items) -> None:
    items = list(items)
    if len(items) == 1:
        fn(*items[0])
        return
    with concurrent.futures.ThreadPoolExecutor(_PARALLEL_TRANSFERS, thread_name_prefix="transfer") as pool:
        for done in [pool.submit(fn, *item) for item in items]:
            done.result()


def tree_keys(directory: Path, area: str, asset_id: uuid.UUID | str) -> dict[Path, str]:
    """The key of every file under `directory`: `<area>/<asset>/<relative path>` (for upload_files)."""
    return {
        path: asset_key(area, asset_id, path.relative_to(directory).as_posix())
        for path in sorted(p for p in directory.rglob("*") if p.is_file())
    }


def download_file(key: str, path: Path) -> None:
    download_files({key: path})


def download_files(files: dict[str, Path]) -> None:
    """Download each key to its path, a few at a time on S3 (through one client)."""
    storage = get_storage()
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    if not is_s3(storage):
        for key, path in files.items():
            with storage.open(key, "rb") as src, path.open("wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
        return
    client, bucket = storage.connection.meta.client, storage.bucket_name

    def get(key: str, path: Path) -> None:
        with transient_as_unavailable(f"fetching {key}"):
            client.download_file(bucket, key, str(path), Config=_TRANSFER)

    _side_by_side(get, files.items())


def delete_key(key: str) -> None:
    with transient_as_unavailable(f"deleting {key}"):
        get_storage().delete(key)


def size(key: str) -> int:
    with transient_as_unavailable(f"measuring {key}"):
        return get_storage().size(key)


def rename(source: str, target: str) -> None:
    """Move a stored file to `target` in one step where the backend can (the filesystem's
    rename), so that `target` never holds a partly written file."""
    storage = get_storage()
    try:
        source_path, target_path = Path(storage.path(source)), Path(storage.path(target))
    except NotImplementedError:  # a backend without local paths: copy, then delete
        with open_file(source) as fh:
            save_stream(target, fh)
        delete_key(source)
        return
    target_path.parent.mkdir(parents=True, exist_ok=True)
    source_path.replace(target_path)


def exists(key: str) -> bool:
    with transient_as_unavailable(f"looking for {key}"):
        return get_storage().exists(key)


def presigned_url(key: str) -> str | None:
    """A short-lived URL the browser can fetch directly, where the backend has one (S3)."""
    if not is_s3(get_storage()):
        return None
    return for_browsers().url(key)


def open_file(key: str) -> IO[bytes]:
    with transient_as_unavailable(f"opening {key}"):
        return get_storage().open(key, "rb")


def delete_asset_files(asset_id: uuid.UUID | str) -> int:
    """Delete every stored object of an asset, in every area. Returns how many were deleted."""
    return sum(delete_prefix(area, asset_id) for area in AREAS)


def delete_prefix(area: str, asset_id: uuid.UUID | str) -> int:
    """Delete everything an asset has in one area. Returns how many objects were deleted."""
    storage = get_storage()
    prefix = f"{area}/{uuid.UUID(str(asset_id))}/"
    if not is_s3(storage):
        return _delete_tree(storage, prefix.rstrip("/"))
    bucket = storage.bucket
    with transient_as_unavailable(f"deleting {prefix}"):
        keys = [{"Key": obj.key} for obj in bucket.objects.filter(Prefix=prefix)]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes 1000 keys at most
            bucket.delete_objects(Delete={"Objects": keys[start : start + 1000], "Quiet": True})
    return len(keys)


def _delete_tree(storage: Storage, path: str) -> int:
    if not storage.exists(path):
        return 0
    folders, files = storage.listdir(path)
    count = 0
    for name in files:
        storage.delete(f"{path}/{name}")
        count += 1
    for folder in folders:
        count += _delete_tree(storage, f"{path}/{folder}")
    return count
