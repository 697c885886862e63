"""What only S3 has: its error shapes, its clients' timeouts, the bucket, direct multipart uploads.

storage.py is the interface the rest of the project uses (and re-exports these names);
this module imports nothing of the project, so storage.py can build on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import botocore.exceptions
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from botocore.config import Config
from django.conf import settings
from django.core.files.storage import Storage, storages

try:  # django-storages is optional at import time for the filesystem default
    from storages.backends.s3 import S3Storage
except ImportError:  # pragma: no cover
    S3Storage = None  # type: ignore[assignment,misc]


class StorageUnavailable(ConnectionError):
    """Storage could not be reached or answered 5xx: worth retrying later, unlike a 4xx."""


_TRANSIENT_S3_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "503", "500", "502", "504"}
_MISSING_BUCKET_CODES = {"404", "NoSuchBucket", "NotFound"}


@contextmanager
def transient_as_unavailable(what: str) -> Iterator[None]:
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


def is_s3(storage: Storage) -> bool:
    return S3Storage is not None and isinstance(storage, S3Storage)


def for_browsers() -> Storage:
    """The storage as browsers reach it: signed for S3_PUBLIC_ENDPOINT_URL when that is set."""
    return storages["public"] if "public" in settings.STORAGES else storages["default"]


def client(public: bool = False):
    """(boto3 client, bucket name) of the default storage, or of the one browsers reach."""
    storage = for_browsers() if public else storages["default"]
    return storage.connection.meta.client, storage.bucket_name


# --- Client timeouts -----------------------------------------------------------------
# The settings give every process the web's short timeouts and few attempts
# (S3_OPTIONS["client_config"]: a request answers 503 in seconds when S3 is paused); a
# worker switches to botocore's longer defaults as it starts: its transfers are long,
# and Celery retries them while the job says it waits for storage.


def use_worker_client_config() -> None:
    """Give this process's S3 storages the worker's configuration: botocore's default
    timeouts (60 s) and retries, what django-storages makes when given none. Called as a
    worker starts, before its first S3 call; pool processes forked later inherit it."""
    for alias in ("default", "public"):
        if alias in settings.STORAGES and is_s3(storage := storages[alias]):
            storage.client_config = Config(
                s3={"addressing_style": storage.addressing_style},
                signature_version=storage.signature_version,
                proxies=storage.proxies,
            )


# --- The bucket -------------------------------------------------------------------------


def bucket_name() -> str:
    return storages["default"].bucket_name


def bucket_ensure() -> bool:
    """Create the bucket when it is missing (a new MinIO or S3 account). True if it was created."""
    s3, bucket = client()
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in _MISSING_BUCKET_CODES:
            raise
    region = s3.meta.region_name
    location = {"CreateBucketConfiguration": {"LocationConstraint": region}} if region != "us-east-1" else {}
    s3.create_bucket(Bucket=bucket, **location)
    return True


def bucket_cors_ensure(origins: list[str]) -> None:
    """Let pages on `origins` PUT parts and read them back (ETag) and fetch HLS segments.

    Browsers need this for direct uploads and hls.js; MinIO allows every origin by
    default, AWS S3 and others need the rule. https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html
    """
    if not is_s3(storages["default"]) or not origins:
        return
    s3, bucket = client()
    s3.put_bucket_cors(
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
    return is_s3(storages["default"])


def multipart_start(key: str) -> str:
    s3, bucket = client()
    with transient_as_unavailable(f"starting an upload to {key}"):
        return s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/octet-stream")["UploadId"]


def multipart_part_url(key: str, upload_id: str, part_number: int, size_bytes: int, expires_s: int) -> str:
    # Signed for the host browsers reach (S3_PUBLIC_ENDPOINT_URL); signing is local. The
    # length is signed too (a signed header), so the URL takes a part of that size only.
    s3, bucket = client(public=True)
    return s3.generate_presigned_url(
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
    s3, bucket = client()
    parts = []
    with transient_as_unavailable(f"listing the parts of {key}"):
        for page in s3.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=upload_id):
            parts += [UploadedPart(p["PartNumber"], p["Size"], p["ETag"]) for p in page.get("Parts", [])]
    return parts


def multipart_complete(key: str, upload_id: str, parts: list[UploadedPart]) -> None:
    """Join the parts in S3. Raises MultipartRefused when S3 refuses what the client sent."""
    s3, bucket = client()
    try:
        with transient_as_unavailable(f"completing the upload of {key}"):
            s3.complete_multipart_upload(
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
    s3, bucket = client()
    try:
        with transient_as_unavailable(f"aborting the upload of {key}"):
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
            raise


def abort_incomplete_uploads(*, older_than_s: int) -> int:
    """Abort S3 multipart uploads started more than `older_than_s` ago (an upload that died half way).

    Their parts are invisible but billed and kept forever otherwise. Nothing to do
    on the filesystem backend, whose partial files Django removes itself.
    """
    if not is_s3(storages["default"]):
        return 0
    s3, bucket = client()
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    aborted = 0
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            if upload["Initiated"] < cutoff:
                s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                aborted += 1
    return aborted
