"""Request and response shapes of the API (they are the OpenAPI schema)."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from ninja import Field, Schema
from pydantic import AfterValidator, ConfigDict, StrictBool
from pydantic_core import PydanticCustomError

from ..models import ALT_TEXT_MAX, DESCRIPTION_MAX, EMBED_ORIGINS_MAX, TITLE_MAX, Asset, Job
from ..text import text_problem


def _text(value: str) -> str:
    if problem := text_problem(value):
        raise PydanticCustomError("control_character", "This {problem}.", {"problem": problem})
    return value


# Every string the API takes: text only (media_tasks.text), refused as a validation error (422).
Text = Annotated[str, AfterValidator(_text)]


class FieldError(Schema):
    field: str
    message: str


class ErrorDetail(Schema):
    code: str = Field(examples=["not_found"])
    message: str
    fields: list[FieldError] | None = Field(None, description="present when particular fields are at fault")


class Error(Schema):
    error: ErrorDetail


class UploadStartIn(Schema):
    filename: Text = Field(min_length=1, max_length=1000)
    size: int = Field(gt=0, description="bytes")


class UploadOut(Schema):
    upload_id: uuid.UUID
    key: str
    status: str
    multipart: bool = Field(description="true: PUT parts to the signed URLs; false: PUT them to this API")
    max_part_bytes: int


class PartTargetOut(Schema):
    url: str
    method: str
    headers: dict[str, str]
    expires_in: int


class PartOut(Schema):
    part_number: int
    size: int
    etag: str


class PartIn(Schema):
    part_number: int = Field(ge=1, le=10_000)
    etag: Text = Field(min_length=1, max_length=200)


class UploadCompleteIn(Schema):
    parts: list[PartIn] = Field(default_factory=list, max_length=10_000)


class Accepted(Schema):
    asset_id: uuid.UUID
    job_id: uuid.UUID
    status: str
    status_url: str
    correlation_id: str
    duplicate: bool = Field(
        False, description="true: the same bytes were uploaded before; the ids and status_url are of that upload"
    )


class RenditionOut(Schema):
    kind: str
    profile: str
    width: int
    height: int
    bitrate: int
    size_bytes: int
    codec: str
    encoder: str
    worker: str
    ssim: float | None = Field(
        None, description="video rungs: SSIM against the source scaled to their size (1.0 = identical), once measured"
    )
    vmaf: float | None = Field(
        None,
        description="video rungs: VMAF (model v0.6.1, 0–100; about 93 and up looks like the source) against the"
        " source, this rendition scaled to the source's size; measured after the job is ready, null until then"
        " or where it was not measured (MEDIA_VMAF_WINDOWS=0, or the measurement failed: the job's events say why)",
    )
    target_vmaf: float | None = Field(
        None,
        description="video rungs: the VMAF this rung's encode aimed at, from `ladder` of the job that made it;"
        " null for a rung encoded with the fixed recipe (the lead rung, the fixed ladder) and for other kinds",
    )
    url: str = Field(
        description="short-lived download URL; for kind `hls` the master playlist's playback URL"
        " (plays with no cookie for MEDIA_PLAYBACK_EXPIRY_S, 4 h by default)"
    )


class LadderRungOut(Schema):
    """One rung the per-title decision considered, largest first: kept (`dropped` empty) or left out."""

    name: str = Field(examples=["720p"])
    crf: float | None = Field(None, description="x264's CRF the rung is encoded at")
    maxrate_kbps: int | None = Field(None, description="its video rate cap, kb/s")
    target_vmaf: float | None = Field(None, description="the VMAF it aims at; null: the fixed recipe")
    predicted_vmaf: float | None = Field(None, description="the VMAF the samples predicted at that CRF and cap")
    predicted_kbps: int | None = Field(None, description="the video bitrate the samples predicted, kb/s")
    dropped: str = Field("", description="why the rung was left out of the ladder (not worth its bytes); empty: kept")
    note: str = Field("", description="how its settings were chosen, in words")


class LadderOut(Schema):
    """How a job chose its ladder (the per-title encode, issue 30)."""

    policy: str = Field(
        description="`per-title`: each rung's CRF and cap chosen from samples of the source to reach a VMAF target;"
        " `fixed`: the same recipe for every source",
        examples=["per-title"],
    )
    reason: str = Field(description="why this policy", examples=["chosen from 3.0 s of samples"])
    sample_s: float | None = Field(None, description="seconds of the source the analysis encoded")
    analysis_cpu_s: float | None = Field(None, description="CPU seconds the analysis cost")
    rungs: list[LadderRungOut] = Field(default_factory=list, description="largest first, the dropped ones included")


class AssetSummary(Schema):
    id: uuid.UUID
    title: str = Field(description="the owner's title; the file name until one is set")
    filename: str
    kind: Asset.Kind | None
    size_bytes: int
    created_at: datetime
    status: Job.Status | None
    progress: int
    url: str


class LoudnessMeasuredOut(Schema):
    integrated_lufs: float = Field(description="integrated loudness (ITU-R BS.1770, EBU R128), LUFS")
    true_peak_dbtp: float = Field(description="true peak, dBTP")


class LoudnessOut(Schema):
    """The source's loudness and what was done to its sound (issue 31): measured beside the lead
    rung's encode, which plays the source's level until the ladder is stored."""

    integrated_lufs: float | None = Field(
        None, examples=[-41.8], description="the source's integrated loudness (ITU-R BS.1770 / EBU R128), LUFS"
    )
    true_peak_dbtp: float | None = Field(None, examples=[-20.5], description="the source's true peak, dBTP")
    target_lufs: float | None = Field(
        None, examples=[-16.0], description="MEDIA_LOUDNESS_TARGET_LUFS when it was made; null: normalisation off"
    )
    gain_db: float | None = Field(None, description="the gain applied to the whole sound, dB (0: kept as it was)")
    limited: bool = Field(False, description="whether peaks were limited to stay under -1 dBTP after the gain")
    output: LoudnessMeasuredOut | None = Field(
        None, description="the renditions' sound measured after the encode; null where the sound was kept as encoded"
    )
    note: str = Field("", description="what was done and why, in words (near-silence is never raised)")


class CaptionOut(Schema):
    """A caption track: one WebVTT file per language, listed in the HLS master (`EXT-X-MEDIA`
    `TYPE=SUBTITLES`) and the DASH manifest (a text AdaptationSet) that `playback_url` and `dash_url` serve."""

    language: str = Field(examples=["en-GB"], description="its BCP 47 tag, in normal form")
    label: str = Field(examples=["English"], description="what a player's menu shows (the tag when none was given)")
    cues: int
    created_at: datetime
    url: str = Field(description="the WebVTT file, for any player or fetch, no cookie (as long as `playback_url`)")


class AssetOut(AssetSummary):
    description: str
    alt_text: str = Field(description="what an image shows, for screen readers (its `alt`)")
    original_url: str = Field(description="short-lived download URL of the file as uploaded, under its own name")
    share_url: str | None = Field(
        None, description="unlisted page anyone with the link may open, no account (null while not shared)"
    )
    embed_url: str | None = Field(None, description="the player alone, for an `<iframe>` on any site")
    embed_origins: list[str] = Field(
        default_factory=list,
        description="the sites (origins) that may frame the embed, sent as CSP `frame-ancestors`; empty: any site",
    )
    job_id: uuid.UUID | None
    stage: str | None
    waiting_for: str | None = Field(
        None,
        description='what the running job waits for: "storage" (out of reach), "disk" (a worker\'s disk is full), '
        '"database" (it was out of reach: the stage picks up again)',
    )
    error: str | None
    retryable: bool = Field(
        False, description="whether POST …/retry can help: the job failed or was cancelled, and not because of the file"
    )
    correlation_id: str | None
    probe: dict[str, Any]
    playable: bool = Field(
        False,
        description="true once the video can be played from `playback_url`, seconds after the upload:"
        " while `status` is still `transcoding` the playlists grow (HLS EVENT) and more qualities may"
        " join; at `succeeded` they are final (VOD). Announced by the `job.playable` webhook",
    )
    playable_at: datetime | None = Field(None, description="when the video became playable")
    playback_url: str | None = Field(
        None,
        description="HLS master playlist for any player (hls.js, Safari, ffprobe): no cookie, any origin;"
        " valid for MEDIA_PLAYBACK_EXPIRY_S (4 h by default). null until the video is `playable`",
    )
    dash_url: str | None = Field(
        None,
        description="DASH manifest (a static MPD: dash.js, Shaka Player, ExoPlayer, ffprobe) of the same"
        " streams as `playback_url`, signed the same way: no cookie, any origin, valid as long. null until"
        " the whole ladder is stored (the MPD is written once, static, with it)",
    )
    poster_frame: str | None = Field(
        None, description="which `frame` rendition (the poster's candidates) is the poster; PATCH `poster` to choose"
    )
    ladder: LadderOut | dict[str, Any] = Field(
        default_factory=dict,
        union_mode="left_to_right",
        description="how the latest job (`job_id`) chose its ladder and why, each rung dropped as not worth its"
        " bytes saying why; `{}` until it has chosen, and for images and videos encoded before per-title ladders",
    )
    loudness: LoudnessOut | None = Field(
        None,
        description="the latest job's measurement of the source's loudness and what it did to the sound;"
        " null until measured, for silent videos and for images",
    )
    renditions: list[RenditionOut]
    captions: list[CaptionOut] = Field(
        default_factory=list, description="its caption tracks, by language; named by the HLS master and the MPD"
    )


class AssetPatchIn(Schema):
    """Only the fields sent change; an empty title shows the file name again. A field we do not
    know is refused, not ignored: a typo must not look like a change that was made."""

    model_config = ConfigDict(extra="forbid")

    title: Text | None = Field(None, max_length=TITLE_MAX)
    description: Text | None = Field(None, max_length=DESCRIPTION_MAX)
    alt_text: Text | None = Field(None, max_length=ALT_TEXT_MAX)
    shared: StrictBool | None = Field(
        None,
        description="true: make an unlisted share link and embed; false: revoke them: the page, the embed and"
        " every link they gave stop (on S3 a presigned URL one of them sent a viewer to within the last"
        " MEDIA_SHARED_REDIRECT_EXPIRY_S, 10 s, lasts out those seconds)",
    )
    embed_origins: list[str] | None = Field(
        None,
        max_length=EMBED_ORIGINS_MAX,
        description="only these sites may frame the embed (CSP `frame-ancestors`): http(s) origins such as"
        f" `https://blog.example.com`, no path, at most {EMBED_ORIGINS_MAX}; `[]`: any site (the default)."
        " Anything else → `422` naming `embed_origins`",
    )
    poster: Text | None = Field(
        None, description="a video's `frame` rendition (its profile, e.g. `frame-30`) to make its poster"
    )
    poster_time: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="make the frame at this many seconds the poster (a ready video; 0 to its duration, else"
        " `422` naming `poster_time`). A worker takes it: the `poster` rendition changes within seconds",
    )


class JobOut(Schema):
    asset_id: uuid.UUID
    job_id: uuid.UUID
    status: str


class WebhookIn(Schema):
    url: str = Field(min_length=1, max_length=2000)
    events: list[Text] = Field(default_factory=list, description="empty: every event type")


class WebhookOut(Schema):
    id: int
    url: str
    events: list[str]
    is_active: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="signs each delivery; shown once")


class DeliveryOut(Schema):
    id: uuid.UUID
    event_id: str
    event_type: str
    status: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    last_status_code: int | None
