"""Caption tracks of a video: add (SRT or WebVTT, one per language), list, delete."""
# No `from __future__ import annotations` in the API modules: django-ninja reads the annotations at run time.

import uuid

from django.http import HttpRequest
from ninja import File, Form, Router, Status
from ninja.errors import ValidationError
from ninja.files import UploadedFile

from .. import presenters, selectors, services
from .schemas import CaptionOut
from .uploads import ERRORS

router = Router(tags=["captions"])


def _out(request: HttpRequest, asset, track) -> dict:
    data = presenters.captions.caption_data(asset=asset, track=track)
    return {**data, "url": request.build_absolute_uri(data["url"])}


@router.post(
    "/{uuid:asset_id}/captions",
    response={201: CaptionOut, **ERRORS},
    url_name="caption_add",
    summary="Add a caption track (SRT or WebVTT)",
)
def caption_add(
    request: HttpRequest,
    asset_id: uuid.UUID,
    file: File[UploadedFile] = None,
    language: Form[str] = "",
    label: Form[str] = "",
):
    """201: checked, converted to WebVTT and stored; the master and the MPD name it from the next
    load, with no re-encode. A track already there in that language is replaced. `422` names the
    field at fault: a broken cue (with its line), text that is not UTF-8, an unknown `language`, a
    file over 2 MB."""
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)  # another user's: 404 first
    if file is None or not file.size:
        raise ValidationError(
            [{"loc": ("file", "file"), "msg": "Send the SRT or WebVTT file as the multipart field `file`."}]
        )
    if not language.strip():  # checked here, after the owner's: another user's video is a 404 first
        message = "Send the track's language as the multipart field `language`, a BCP 47 tag such as en-GB."
        raise ValidationError([{"loc": ("form", "language"), "msg": message}])
    track = services.caption_track_add(
        asset_id=asset.id, language=language, label=label, fileobj=file, size_bytes=file.size
    )
    return Status(201, _out(request, asset, track))


@router.get("/{uuid:asset_id}/captions", response={200: list[CaptionOut], **ERRORS}, url_name="caption_list")
def caption_list(request: HttpRequest, asset_id: uuid.UUID):
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    return [_out(request, asset, track) for track in selectors.caption_tracks_for(asset_id=asset.id)]


@router.delete("/{uuid:asset_id}/captions/{language}", response={204: None, **ERRORS}, url_name="caption_delete")
def caption_delete(request: HttpRequest, asset_id: uuid.UUID, language: str):
    """204: no player is offered it from the next load, and its file is deleted."""
    asset = selectors.asset_get_for(user=request.user, asset_id=asset_id)
    services.caption_track_delete(asset_id=asset.id, language=language)
    return Status(204, None)
