"""Object storage: deterministic keys and file transfer through Django's storage API.

S3 (django-storages, MinIO in docker-compose) or the filesystem default. Large
transfers to and from S3 use boto3's managed transfer (multipart, concurrent);
everything else goes through the plain storage API.
"""

from __future__ import annotations

import concurrent.futures
import mimetypes
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import botocore.exceptions
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages

try:  # django-storages is optional at import time for the filesystem default
    from storages.backends.s3 import S3Storage
except ImportError:  # pragma: no cover
    S3Storage = None  # type: ignore[assignment,misc]

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


class StorageUnavailable(ConnectionError):
    """Storage could not be reached or answered 5xx: worth retrying later, unlike a 4xx."""


_TRANSIENT_S3_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "503", "500", "502", "504"}


@contextmanager
def _transient_as_unavailable(what: str) -> Iterator[None]:
    """Turn boto3's many shapes of "S3 is not there right now" into one retryable exception."""
    try:
        yield
    except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError, RetriesExceededError) as exc:
        raise StorageUnavailable(f"{what}: {exc}") from exc
    except botocore.exceptions.ClientError as exc:
        if _is_transient(exc):
            raise StorageUnavailable(f"{what}: {exc}") from exc
        raise
    except S3UploadFailedError as exc:
        cause = exc.__cause__ or exc.__context__
        if (
            cause is None
            or isinstance(cause, botocore.exceptions.BotoCoreError)
            or (isinstance(cause, botocore.exceptions.ClientError) and _is_transient(cause))
        ):
            raise StorageUnavailable(f"{what}: {exc}") from exc
        raise


def _is_transient(exc: botocore.exceptions.ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status >= 500 or error.get("Code") in _TRANSIENT_S3_CODES


def get_storage() -> Storage:
    """The default storage, looked up each time so that tests can switch STORAGES."""
    return storages["default"]


def connect() -> None:
    """Make this thread's S3 client now instead of in the first transfer that needs it.

    django-storages makes one per thread, lazily, and making one loads botocore's S3 model
    from disk: 0.15 to 0.25 s of CPU on a 2-core worker, which a fresh pool process used to
    spend inside its first job. Nothing is sent to S3, so an outage does not hold this up."""
    if _s3(get_storage()):
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


def _s3(storage: Storage) -> bool:
    return S3Storage is not None and isinstance(storage, S3Storage)


def save_stream(key: str, fileobj: IO[bytes]) -> None:
    """Store a file-like object chunk by chunk (it is never read whole into memory)."""
    storage = get_storage()
    if _s3(storage):
        fileobj.seek(0)
        with _transient_as_unavailable(f"storing {key}"):
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
    if not _s3(storage):
        for path, key in files.items():
            with path.open("rb") as fh:
                save_stream(key, fh)
        return
    client, bucket = storage.connection.meta.client, storage.bucket_name

    def put(path: Path, key: str) -> None:
        with _transient_as_unavailable(f"storing {key}"):
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
    if not _s3(storage):
        for key, path in files.items():
            with storage.open(key, "rb") as src, path.open("wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
        return
    client, bucket = storage.connection.meta.client, storage.bucket_name

    def get(key: str, path: Path) -> None:
        with _transient_as_unavailable(f"fetching {key}"):
            client.download_file(bucket, key, str(path), Config=_TRANSFER)

    _side_by_side(get, files.items())


def delete_key(key: str) -> None:
    get_storage().delete(key)


def size(key: str) -> int:
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
    return get_storage().exists(key)


def presigned_url(key: str) -> str | None:
    """A short-lived URL the browser can fetch directly, where the backend has one (S3)."""
    if not _s3(get_storage()):
        return None
    return _for_browsers().url(key)


def _for_browsers() -> Storage:
    """The storage as browsers reach it: signed for S3_PUBLIC_ENDPOINT_URL when that is set."""
    return storages["public"] if "public" in settings.STORAGES else get_storage()


def open_file(key: str) -> IO[bytes]:
    return get_storage().open(key, "rb")


def abort_incomplete_uploads(*, older_than_s: int) -> int:
    """Abort S3 multipart uploads started more than `older_than_s` ago (an upload that died half way).

    Their parts are invisible but billed and kept forever otherwise. Nothing to do
    on the filesystem backend, whose partial files Django removes itself.
    """
    if not _s3(get_storage()):
        return 0
    client, bucket = _client()
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    aborted = 0
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            if upload["Initiated"] < cutoff:
                client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                aborted += 1
    return aborted


def delete_asset_files(asset_id: uuid.UUID | str) -> int:
    """Delete every stored object of an asset, in every area. Returns how many were deleted."""
    return sum(delete_prefix(area, asset_id) for area in AREAS)


def delete_prefix(area: str, asset_id: uuid.UUID | str) -> int:
    """Delete everything an asset has in one area. Returns how many objects were deleted."""
    storage = get_storage()
    prefix = f"{area}/{uuid.UUID(str(asset_id))}/"
    if not _s3(storage):
        return _delete_tree(storage, prefix.rstrip("/"))
    bucket = storage.bucket
    with _transient_as_unavailable(f"deleting {prefix}"):
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


# --- Direct multipart uploads ---------------------------------------------------
# S3: the browser PUTs each part to a presigned URL; the server starts, lists,
# completes and aborts the upload with boto3. Filesystem: the same protocol, with the
# parts PUT to our own endpoint and kept as files until they are joined.


class MultipartRefused(ValueError):
    """S3 refused to complete a multipart upload for something the client sent (a part
    missing or with another ETag, parts out of order, a part under 5 MiB)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


_REFUSED_COMPLETIONS = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload", "MalformedXML"}


@dataclass(frozen=True)
class UploadedPart:
    number: int
    size: int
    etag: str


def multipart_supported() -> bool:
    """Whether browsers upload straight to the storage (S3) rather than through us."""
    return _s3(get_storage())


def _client(public: bool = False):
    storage = _for_browsers() if public else get_storage()
    return storage.connection.meta.client, storage.bucket_name


def multipart_start(key: str) -> str:
    client, bucket = _client()
    with _transient_as_unavailable(f"starting an upload to {key}"):
        return client.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/octet-stream")[
            "UploadId"
        ]


def multipart_part_url(key: str, upload_id: str, part_number: int, size_bytes: int, expires_s: int) -> str:
    # Signed for the host browsers reach (S3_PUBLIC_ENDPOINT_URL); signing is local. The
    # length is signed too (a signed header), so the URL takes a part of that size only.
    client, bucket = _client(public=True)
    return client.generate_presigned_url(
        "upload_part",
        Params={
            "Bucket": bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": part_number,
            "ContentLength": size_bytes,
        },
        ExpiresIn=expires_s,
    )


def multipart_parts(key: str, upload_id: str) -> list[UploadedPart]:
    client, bucket = _client()
    parts = []
    with _transient_as_unavailable(f"listing the parts of {key}"):
        for page in client.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=upload_id):
            parts += [UploadedPart(p["PartNumber"], p["Size"], p["ETag"]) for p in page.get("Parts", [])]
    return parts


def multipart_complete(key: str, upload_id: str, parts: list[UploadedPart]) -> None:
    """Join the parts in S3. Raises MultipartRefused when S3 refuses what the client sent."""
    client, bucket = _client()
    try:
        with _transient_as_unavailable(f"completing the upload of {key}"):
            client.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]},
            )
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") in _REFUSED_COMPLETIONS:
            raise MultipartRefused(error["Code"], error.get("Message", "")) from exc
        raise


def multipart_abort(key: str, upload_id: str) -> None:
    """Drop an unfinished S3 upload; one that S3 no longer knows is already gone."""
    client, bucket = _client()
    try:
        with _transient_as_unavailable(f"aborting the upload of {key}"):
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
            raise


def bucket_cors_ensure(origins: list[str]) -> None:
    """Let pages on `origins` PUT parts and read them back (ETag) and fetch HLS segments.

    Browsers need this for direct uploads and hls.js; MinIO allows every origin by
    default, AWS S3 and others need the rule. https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html
    """
    if not _s3(get_storage()) or not origins:
        return
    client, bucket = _client()
    client.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": origins,
                    "AllowedMethods": ["GET", "HEAD", "PUT"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag", "Content-Length", "Content-Range"],
                    "MaxAgeSeconds": 3600,
                }
            ]
        },
    )
