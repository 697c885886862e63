"""Data only: what was uploaded, the work done on it, and what came out. No ffmpeg here."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Asset(models.Model):
    class Kind(models.TextChoices):
        VIDEO = "video", "Video"
        IMAGE = "image", "Image"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assets")
    # Empty until the probe has looked at the content: the file name decides nothing.
    kind = models.CharField(max_length=16, choices=Kind.choices, blank=True)
    original_key = models.CharField(max_length=512)
    # The client's name for the file, for display only; it never becomes a key or a path.
    original_filename = models.CharField(max_length=255)
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
        return self.original_filename

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
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

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
        POSTER = "poster", "Poster"
        SPRITE = "sprite", "Sprite sheet"
        IMAGE = "image", "Image"

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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "-height", "profile"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "kind", "profile"], name="unique_rendition_per_profile"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.profile}"


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
