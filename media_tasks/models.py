"""Data only: what was uploaded, the work done on it, and what came out. No ffmpeg here."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
ALT_TEXT_MAX = 500
EMBED_ORIGINS_MAX = 20


class Asset(models.Model):
    class Kind(models.TextChoices):
        VIDEO = "video", "Video"
        IMAGE = "image", "Image"
        AUDIO = "audio", "Audio"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assets")
    # Empty until the probe has looked at the content: the file name decides nothing.
    kind = models.CharField(max_length=16, choices=Kind.choices, blank=True)
    original_key = models.CharField(max_length=512)
    # The client's name for the file, for display only; it never becomes a key or a path.
    original_filename = models.CharField(max_length=255)
    # The owner's words for it. An empty title shows the file name (presenters.asset_title).
    title = models.CharField(max_length=TITLE_MAX, blank=True)
    description = models.TextField(max_length=DESCRIPTION_MAX, blank=True)
    alt_text = models.CharField(
        max_length=ALT_TEXT_MAX, blank=True, help_text="What an image shows, for screen readers."
    )
    # The secret of its unlisted share link and embed; empty while not shared (off by default).
    share_token = models.CharField(max_length=32, blank=True, db_index=True)
    # The sites (origins) that may frame its embed, as CSP frame-ancestors; empty: any site.
    embed_origins = models.JSONField(default=list, blank=True)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    # ffprobe/Pillow findings: container, duration, width, height, rotation,
    # frame_rate, video_codec, audio_codec, has_audio (see pipeline.probe.MediaInfo).
    probe = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title or self.original_filename

    @property
    def latest_job(self) -> Job | None:
        return self.jobs.order_by("-created_at").first()


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROBING = "probing", "Checking the file"
        TRANSCODING = "transcoding", "Transcoding"
        THUMBNAILING = "thumbnailing", "Making thumbnails"
        PROCESSING = "processing", "Making image sizes"
        FINALIZING = "finalizing", "Finishing"
        SUCCEEDED = "succeeded", "Ready"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINAL_STATUSES = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="jobs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # False when the file itself is the reason it failed (not a format we read, over a limit, cut
    # short): trying it again cannot help, so no Retry is offered.
    retryable = models.BooleanField(default=True)
    attempts = models.PositiveIntegerField(default=0)
    worker_hostname = models.CharField(max_length=255, blank=True)
    correlation_id = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set once RabbitMQ confirmed the first message: a job without it was never queued.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # Touched by the running stage every MEDIA_JOB_HEARTBEAT_S; a stale one means a lost worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # What a running job is waiting for ("storage": S3 out of reach, retried with backoff),
    # cleared by its next progress; since when, cleared when the stage's work is done.
    waiting_for = models.CharField(max_length=16, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    # When the first segments of its HLS were stored and the master published: a player may start
    # while the ladder is still being made. Set once; a redone transcode keeps it.
    playable_at = models.DateTimeField(null=True, blank=True)
    # The ladder this job chose for its source and why (pipeline.pertitle.LadderDecision.as_dict):
    # made once, before the rungs after the lead, so that a retry and every chunk use the same.
    ladder = models.JSONField(default=dict, blank=True)
    # Its source's loudness and what was done to the sound (processing.loudness), made beside the
    # lead's encode: the finished ladder's sound is the one it describes.
    loudness = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.asset} · {self.get_status_display()}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES


class JobEvent(models.Model):
    """One thing that happened to a job, in order: the history on the status page and in admin.

    Written only through media_tasks.events.publish, which also hands each event to
    the subscribers (the single internal event stream).
    """

    class Type(models.TextChoices):
        QUEUED = "queued", "Queued"
        STAGE = "stage", "Stage started"
        NOTE = "note", "Note"
        PLAYABLE = "playable", "Playable"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        # Published to subscribers (webhooks) but not stored: the Job row holds the percent.
        PROGRESS = "progress", "Progress"

    # The id webhook receivers see ("evt_<hex>"), to tell a redelivery from a new event.
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=16, choices=Type.choices)
    stage = models.CharField(max_length=16, blank=True)
    message = models.TextField(blank=True)
    worker_hostname = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_type_display()}: {self.message or self.stage}"


class Rendition(models.Model):
    class Kind(models.TextChoices):
        MP4 = "mp4", "MP4"
        HLS = "hls", "HLS"
        # The stream area's DASH manifest (profile "manifest"), written at ready.
        DASH = "dash", "DASH"
        # A sound track stored as its own stream (profile "128k"), named by every video rung.
        AUDIO = "audio", "Audio"
        POSTER = "poster", "Poster"
        # The poster's candidates (one of them is the poster: the owner may choose another).
        FRAME = "frame", "Poster candidate"
        SPRITE = "sprite", "Sprite sheet"
        IMAGE = "image", "Image"
        # A sound alone's download (profile "128k"): its sound stream as one M4A, put together when fetched.
        M4A = "m4a", "M4A"
        # The cover art in a sound's tags (profile "cover"); its poster is its waveform.
        COVER = "cover", "Cover art"

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="renditions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # "720p" for video rungs, "640.webp" for image variants, "master" for HLS.
    profile = models.CharField(max_length=32)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    bitrate = models.PositiveIntegerField(default=0, help_text="bits per second")
    size_bytes = models.BigIntegerField(default=0)
    codec = models.CharField(max_length=64, blank=True)
    storage_key = models.CharField(max_length=512)
    # Who made it and with what: "libx264", "h264_nvenc", ... (empty for stills).
    encoder = models.CharField(max_length=32, blank=True)
    worker_hostname = models.CharField(max_length=255, blank=True)
    # SSIM against the source scaled to this size (1.0 = identical), when measured.
    ssim = models.FloatField(null=True, blank=True)
    # VMAF (model v0.6.1) against the source, this rendition scaled to the source's display size.
    vmaf = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "-height", "profile"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "kind", "profile"], name="unique_rendition_per_profile"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.profile}"


class CaptionTrack(models.Model):
    """A caption track the owner attached to a video: one WebVTT file per language, named by the
    HLS master and the DASH manifest as they are served (presenters.captions), never re-encoded."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="captions")
    language = models.CharField(max_length=35, help_text="A BCP 47 tag (en, en-GB, pt-BR).")
    label = models.CharField(max_length=100, blank=True, help_text="What a player's menu shows.")
    storage_key = models.CharField(max_length=512)
    cues = models.PositiveIntegerField(default=0)
    size_bytes = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["language"]
        constraints = [models.UniqueConstraint(fields=["asset", "language"], name="unique_caption_language")]

    def __str__(self) -> str:
        return self.display_label

    @property
    def display_label(self) -> str:
        """What a player's menu shows: the label, or the language tag when none was given."""
        return self.label or self.language

    @property
    def playlist_key(self) -> str:
        """Its one-segment HLS playlist's key, beside the WebVTT file and named alike."""
        return playlist_beside(self.storage_key)


def playlist_beside(vtt_key: str) -> str:
    """The key of the HLS playlist of the WebVTT file at `vtt_key` (`….vtt` → `….m3u8`)."""
    return vtt_key.removesuffix(".vtt") + ".m3u8"


class Worker(models.Model):
    """A Celery worker's capabilities, as it found them at start-up, and when it was last heard from.

    Transcodes are routed to the GPU queue only while a GPU-capable worker is live.
    """

    hostname = models.CharField(max_length=255, unique=True)
    gpu_encoder = models.CharField(max_length=32, blank=True, help_text="empty: CPU only")
    hw_decode = models.BooleanField(default=False)
    # The encoder report (each candidate: listed, usable, reason) and the decode benchmark.
    capabilities = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return self.hostname


class Upload(models.Model):
    """A direct upload in progress: a multipart upload to S3 (or to our own part store on the
    filesystem backend) that becomes an Asset, with this id, once it is completed.

    The server chooses the key; the browser or API client only ever gets URLs for
    its parts, signed for a few minutes, and only while it owns the upload.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Uploading"
        # Claimed by one completion while its parts are joined (outside any transaction).
        COMPLETING = "completing", "Completing"
        COMPLETED = "completed", "Completed"
        ABORTED = "aborted", "Aborted"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    filename = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(help_text="as declared by the client; checked on completion")
    storage_key = models.CharField(max_length=512)
    # S3's UploadId; empty on the filesystem backend.
    s3_upload_id = models.CharField(max_length=1024, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    correlation_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # What the completion answered, so that a retried completion answers the same: its own
    # asset, or the owner's earlier one with the same bytes. Null until completed, or once deleted.
    asset = models.ForeignKey(Asset, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"


class UploadLog(models.Model):
    """One row per upload begun (form or direct), kept when its asset is deleted: the
    upload rate limit counts these, so deleting assets does not make room for more."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "created_at"])]

    def __str__(self) -> str:
        return f"upload by {self.owner_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 of the secret is stored: it is shown once, at creation."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    # The first characters of the token, to tell tokens apart in lists (not secret enough to matter).
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyRecord(models.Model):
    """The first answer to a create request that carried an Idempotency-Key, replayed on retries."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # The operation and a hash of its input: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="unique_idempotency_key_per_owner")]

    def __str__(self) -> str:
        return self.key


class WebhookEndpoint(models.Model):
    """Where a user wants to be told about their jobs (the callback pattern)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    # Signs every delivery (HMAC-SHA256); shown to its owner so they can verify.
    secret = models.CharField(max_length=64)
    # Event types ("job.succeeded", ...); empty means all of them.
    events = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event to one endpoint, and how sending it went (every attempt is logged)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Gave up"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=64, db_index=True)
    event_type = models.CharField(max_length=32)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"
