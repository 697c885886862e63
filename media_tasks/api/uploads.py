"""Direct uploads: start → part URLs → (resume: list parts) → complete or abort.

S3 storage: parts go from the client straight to S3 on presigned URLs. Filesystem
storage: the part URLs point at `PUT /uploads/{id}/parts/{n}` here instead; the
client cannot tell the difference.
"""

import uuid
from typing import Annotated

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Header, Path, Query, Router, Status

from .. import correlation, presenters, selectors, services
from ..services import uploads as upload_service
from .schemas import Accepted, Error, PartOut, PartTargetOut, Text, UploadCompleteIn, UploadOut, UploadStartIn

router = Router(tags=["uploads"])
PartNumber = Annotated[int, Path(ge=1, le=upload_service.MAX_PARTS)]
IdempotencyKey = Annotated[Text | None, Header(alias="Idempotency-Key")]

# Every operation lists these: any may be refused before its own code runs (no token: 401, a
# session without its CSRF token: 403, a body that is not JSON: 400, too large: 413, fields: 422).
ERRORS = {
    400: Error,
    401: Error,
    403: Error,
    404: Error,
    409: Error,
    413: Error,
    422: Error,
    429: Error,
    503: Error,
}


def _upload_out(upload) -> dict:
    return UploadOut(
        upload_id=upload.id,
        key=upload.storage_key,
        status=upload.status,
        multipart=bool(upload.s3_upload_id),
        max_part_bytes=upload_service.MAX_PART_BYTES,
    ).model_dump(mode="json")


def _part_out(part) -> dict:
    return {"part_number": part.number, "size": part.size, "etag": part.etag}


def accepted(request: HttpRequest, result: services.UploadResult) -> dict:
    body = presenters.upload_accepted(job=result.job, duplicate=result.duplicate, absolute=request.build_absolute_uri)
    return Accepted(**body).model_dump(mode="json")


@router.post("", response={201: UploadOut, **ERRORS}, url_name="upload_start", summary="Start a direct upload")
def upload_start(request: HttpRequest, payload: UploadStartIn, idempotency_key: IdempotencyKey = None):
    """The server picks the storage key. Send `Idempotency-Key` to make a retry safe."""
    return Status(
        *services.idempotent(
            owner=request.user,
            key=idempotency_key,
            operation="upload_start",
            request_data=payload.model_dump(),
            run=lambda: (
                201,
                _upload_out(
                    upload_service.upload_start(
                        owner=request.user,
                        filename=payload.filename,
                        size_bytes=payload.size,
                        correlation_id=correlation.get(),
                    )
                ),
            ),
        )
    )


@router.get("/{uuid:upload_id}", response={200: UploadOut, **ERRORS}, url_name="upload_get")
def upload_get(request: HttpRequest, upload_id: uuid.UUID):
    return _upload_out(selectors.upload_get_for(user=request.user, upload_id=upload_id))


@router.get("/{uuid:upload_id}/parts", response={200: list[PartOut], **ERRORS}, url_name="upload_parts")
def upload_parts(request: HttpRequest, upload_id: uuid.UUID):
    """The parts received so far: an interrupted upload resumes after them."""
    upload = selectors.upload_get_for(user=request.user, upload_id=upload_id)
    return [_part_out(part) for part in upload_service.upload_parts_received(upload=upload)]


@router.post(
    "/{uuid:upload_id}/parts/{part_number}/url",
    response={200: PartTargetOut, **ERRORS},
    url_name="upload_part_url",
    summary="Get a URL to PUT one part to",
)
def upload_part_url(
    request: HttpRequest,
    upload_id: uuid.UUID,
    part_number: PartNumber,
    size: Annotated[int | None, Query(description="the part's length in bytes; required with S3 storage")] = None,
):
    """With S3 storage the URL is signed for a part of exactly `size` bytes."""
    upload = selectors.upload_get_for(user=request.user, upload_id=upload_id)
    target = upload_service.upload_part_target(upload=upload, part_number=part_number, size_bytes=size)
    ours = reverse("api-1:upload_part_put", args=[upload_id, part_number])
    return {
        "url": target.url or request.build_absolute_uri(ours),
        "method": target.method,
        "headers": target.headers or {},
        "expires_in": settings.MEDIA_PRESIGNED_EXPIRY_S,
    }


@router.put(
    "/{uuid:upload_id}/parts/{part_number}",
    response={200: PartOut, **ERRORS},
    url_name="upload_part_put",
    summary="Send one part (filesystem storage only; S3 parts go to their signed URL)",
    openapi_extra={
        "requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
def upload_part_put(request: HttpRequest, response: HttpResponse, upload_id: uuid.UUID, part_number: PartNumber):
    upload = selectors.upload_get_for(user=request.user, upload_id=upload_id)
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        length = 0
    part = upload_service.upload_part_store(upload=upload, part_number=part_number, stream=request, size_bytes=length)
    response["ETag"] = part.etag  # as S3 answers, so one client handles both (ninja's temporal response)
    return _part_out(part)


@router.post(
    "/{uuid:upload_id}/complete", response={200: Accepted, 202: Accepted, **ERRORS}, url_name="upload_complete"
)
def upload_complete(request: HttpRequest, upload_id: uuid.UUID, payload: UploadCompleteIn):
    """Join the parts and queue processing: 202 with the asset, its job and where to follow it.
    200 with `duplicate: true` and the earlier asset if the same bytes were uploaded before
    (nothing new is stored or processed). Completing again gives the same answer."""
    upload = selectors.upload_get_for(user=request.user, upload_id=upload_id)
    result = upload_service.upload_complete(upload=upload, parts=[(p.part_number, p.etag) for p in payload.parts])
    return Status(200 if result.duplicate else 202, accepted(request, result))


@router.delete("/{uuid:upload_id}", response={204: None, **ERRORS}, url_name="upload_abort")
def upload_abort(request: HttpRequest, upload_id: uuid.UUID):
    upload = selectors.upload_get_for(user=request.user, upload_id=upload_id)
    upload_service.upload_abort(upload=upload)
    return Status(204, None)
