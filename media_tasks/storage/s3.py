"""The S3 backend (django-storages; MinIO in docker-compose): boto3's managed transfers
(multipart, concurrent), presigned URLs, and multipart uploads straight from the browser."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import botocore.exceptions
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from django.core.files.storage import Storage
from django.utils.http import content_disposition_header

from .base import Backend, MultipartRefused, StorageUnavailable, UploadedPart
from .keys import content_type_for

_PARALLEL_TRANSFERS = 4
_TRANSFER = TransferConfig(multipart_threshold=16 * 1024**2, multipart_chunksize=16 * 1024**2, max_concurrency=4)
# Reads in fewer, larger ranges: a source up to 256 MiB in one GET, a larger one in 256 MiB ranges
# side by side. The worker's first stage waits on this read, and one stream from storage next to
# the workers is at least as fast as many small ranges (moto_server: 200 MB in 0.24 s against 3.2 s
# in 8 MiB ranges). https://boto3.amazonaws.com/v1/documentation/api/latest/reference/customizations/s3.html
_DOWNLOAD = TransferConfig(multipart_threshold=256 * 1024**2, multipart_chunksize=256 * 1024**2, max_concurrency=4)
_READ_CHUNK = 1024 * 1024
_TRANSIENT_S3_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "503", "500", "502", "504"}
_MISSING_BUCKET_CODES = {"404", "NoSuchBucket", "NotFound"}
_REFUSED_COMPLETIONS = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload", "MalformedXML"}


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


def _side_by_side(fn: Callable[..., None], items: Iterable[tuple[Any, Any]]) -> None:
    """A few transfers at a time through one client (boto3 clients are thread-safe): many small
    files (HLS segments) are bound by request latency, not bandwidth."""
    items = list(items)
    if len(items) == 1:
        fn(*items[0])
        return
    with concurrent.futures.ThreadPoolExecutor(_PARALLEL_TRANSFERS, thread_name_prefix="transfer") as pool:
        for done in [pool.submit(fn, *item) for item in items]:
            done.result()


class S3Backend(Backend):
    multipart = True

    def __init__(self, storage: Storage, public: Storage):
        super().__init__(storage)
        # The storage as browsers reach it: signed for S3_PUBLIC_ENDPOINT_URL when that is set.
        self.public = public

    @property
    def client(self) -> Any:
        return self.storage.connection.meta.client

    @property
    def bucket(self) -> str:
        return self.storage.bucket_name

    def connect(self) -> None:
        """Make this thread's S3 client now: django-storages makes one per thread, lazily, and
        making one loads botocore's S3 model from disk. Nothing is sent to S3."""
        self.client  # noqa: B018 - the property makes it

    def use_worker_client_config(self) -> None:
        """botocore's default timeouts (60 s) and retries, what django-storages makes when given
        none, instead of the web's short ones (settings: S3_OPTIONS["client_config"]): a worker's
        transfers are long, and Celery retries them while the job says it waits for storage."""
        for storage in {id(self.storage): self.storage, id(self.public): self.public}.values():
            storage.client_config = Config(
                s3={"addressing_style": storage.addressing_style},
                signature_version=storage.signature_version,
                proxies=storage.proxies,
            )

    def bucket_ensure(self) -> bool:
        """Create the bucket when it is missing (a new MinIO or S3 account). True if it was created."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in _MISSING_BUCKET_CODES:
                raise
        region = self.client.meta.region_name
        location = {"CreateBucketConfiguration": {"LocationConstraint": region}} if region != "us-east-1" else {}
        self.client.create_bucket(Bucket=self.bucket, **location)
        return True

    def save_stream(self, key: str, fileobj: IO[bytes]) -> None:
        fileobj.seek(0)
        with transient_as_unavailable(f"storing {key}"):
            self.storage.bucket.Object(key).upload_fileobj(
                fileobj, ExtraArgs={"ContentType": "application/octet-stream"}, Config=_TRANSFER
            )

    def upload_files(self, files: dict[Path, str]) -> None:
        client, bucket = self.client, self.bucket

        def put(path: Path, key: str) -> None:
            with transient_as_unavailable(f"storing {key}"):
                extra = {"ContentType": content_type_for(path.name)}
                client.upload_file(str(path), bucket, key, ExtraArgs=extra, Config=_TRANSFER)

        _side_by_side(put, files.items())

    def download_files(self, files: dict[str, Path]) -> None:
        client, bucket = self.client, self.bucket
        for path in files.values():
            path.parent.mkdir(parents=True, exist_ok=True)

        def get(key: str, path: Path) -> None:
            with transient_as_unavailable(f"fetching {key}"):
                client.download_file(bucket, key, str(path), Config=_DOWNLOAD)

        _side_by_side(get, files.items())

    def replace_file(self, path: Path, key: str) -> None:
        """A PUT: S3 shows the object whole or not at all."""
        self.upload_files({path: key})

    def rename(self, source: str, target: str) -> None:
        """S3 has no rename: copy, then delete (the target appears whole, as every PUT does)."""
        with self.storage.open(source, "rb") as fh:
            self.save_stream(target, fh)
        self.storage.delete(source)

    def delete_prefix(self, prefix: str) -> int:
        bucket = self.storage.bucket
        with transient_as_unavailable(f"deleting {prefix}"):
            keys = [{"Key": obj.key} for obj in bucket.objects.filter(Prefix=prefix)]
            for start in range(0, len(keys), 1000):  # DeleteObjects takes 1000 keys at most
                bucket.delete_objects(Delete={"Objects": keys[start : start + 1000], "Quiet": True})
        return len(keys)

    def browser_origin(self) -> str | None:
        parts = urlsplit(self.public.url("x"))  # signed locally: no request is made
        return f"{parts.scheme}://{parts.netloc}"

    def presigned_url(self, key: str, *, filename: str | None = None, expires_s: int | None = None) -> str | None:
        # S3 answers with this header for this URL (response-content-disposition, signed in it).
        parameters = {"ResponseContentDisposition": content_disposition_header(True, filename)} if filename else None
        return self.public.url(key, parameters=parameters, expire=expires_s)

    def read_bytes(self, key: str) -> bytes:
        """One GET (the storage API's open costs two HEADs and a GET)."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(key) from exc

    def read_chunks(self, key: str) -> Iterator[bytes]:
        """One GET, streamed: django-storages' open copies the whole object to a temporary file first."""
        with transient_as_unavailable(f"reading {key}"):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                yield from body.iter_chunks(_READ_CHUNK)
            finally:
                body.close()

    def read_range_chunks(self, key: str, start: int, length: int) -> Iterator[bytes]:
        """One ranged GET, streamed (a download assembled from stream files reads its spans so)."""
        if length <= 0:
            return
        with transient_as_unavailable(f"reading {key}"):
            try:
                answer = self.client.get_object(
                    Bucket=self.bucket, Key=key, Range=f"bytes={start}-{start + length - 1}"
                )
            except self.client.exceptions.NoSuchKey as exc:
                raise FileNotFoundError(key) from exc
            body = answer["Body"]
            try:
                yield from body.iter_chunks(_READ_CHUNK)
            finally:
                body.close()

    def abort_incomplete_uploads(self, *, older_than_s: int) -> int:
        """Multipart uploads that died half way: their parts are invisible but billed, and kept forever."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        aborted = 0
        for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket):
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < cutoff:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted += 1
        return aborted

    # --- Direct multipart uploads: the browser PUTs each part to a presigned URL; the server
    # starts, lists, completes and aborts the upload.

    def multipart_start(self, key: str) -> str:
        with transient_as_unavailable(f"starting an upload to {key}"):
            answer = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType="application/octet-stream"
            )
        return answer["UploadId"]

    def multipart_part_url(self, key: str, upload_id: str, part_number: int, size_bytes: int, expires_s: int) -> str:
        # Signed (locally) for the host browsers reach, with the length as a signed header, so
        # the URL takes a part of that size only.
        params = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number}
        client = self.public.connection.meta.client
        return client.generate_presigned_url(
            "upload_part", Params={**params, "ContentLength": size_bytes}, ExpiresIn=expires_s
        )

    def multipart_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        parts = []
        with transient_as_unavailable(f"listing the parts of {key}"):
            pages = self.client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id)
            for page in pages:
                parts += [UploadedPart(p["PartNumber"], p["Size"], p["ETag"]) for p in page.get("Parts", [])]
        return parts

    def multipart_complete(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        """Join the parts in S3. Raises MultipartRefused when S3 refuses what the client sent."""
        listed = {"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]}
        try:
            with transient_as_unavailable(f"completing the upload of {key}"):
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload=listed
                )
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") in _REFUSED_COMPLETIONS:
                raise MultipartRefused(error["Code"], error.get("Message", "")) from exc
            raise

    def multipart_abort(self, key: str, upload_id: str) -> None:
        """Drop an unfinished upload; one that S3 no longer knows is already gone."""
        try:
            with transient_as_unavailable(f"aborting the upload of {key}"):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise

    def bucket_cors_ensure(self, origins: list[str]) -> None:
        """Let pages on `origins` PUT parts, read their ETag and fetch HLS segments (MinIO allows
        every origin by default; AWS S3 needs the rule: https://docs.aws.amazon.com/AmazonS3/latest/userguide/cors.html)."""
        if not origins:
            return
        rule = {
            "AllowedOrigins": origins,
            "AllowedMethods": ["GET", "HEAD", "PUT"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "Content-Length", "Content-Range"],
            "MaxAgeSeconds": 3600,
        }
        self.client.put_bucket_cors(Bucket=self.bucket, CORSConfiguration={"CORSRules": [rule]})
