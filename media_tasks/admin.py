import json

from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from . import selectors, services
from .models import (
    ApiToken,
    Asset,
    CaptionTrack,
    Job,
    JobEvent,
    Rendition,
    Upload,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    Worker,
)

RENDITION_COLUMNS = (
    "kind",
    "profile",
    "width",
    "height",
    "bitrate",
    "size_bytes",
    "codec",
    "ssim",
    "vmaf",
    "encoder",
    "worker_hostname",
)


class RenditionInline(admin.TabularInline):
    model = Rendition
    extra = 0
    can_delete = False
    fields = (*RENDITION_COLUMNS, "storage_key")
    readonly_fields = fields


class CaptionTrackInline(admin.TabularInline):
    # Read-only here: a track is added through services.captions (checked, converted, stored first).
    model = CaptionTrack
    extra = 0
    can_delete = False
    fields = ("language", "label", "cues", "size_bytes", "storage_key", "created_at")
    readonly_fields = fields


class JobInline(admin.TabularInline):
    model = Job
    extra = 0
    can_delete = False
    fields = ("status", "progress", "error", "attempts", "worker_hostname", "created_at", "finished_at")
    readonly_fields = fields
    show_change_link = True


class SystemMade:
    """Rows the system writes: shown, never added or saved by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class LatestJobStatus(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Job.Status.choices

    def queryset(self, request, queryset):
        return queryset.filter(job_status=self.value()) if self.value() else queryset


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ("display_title", "kind", "owner", "size", "status", "created_at")
    list_filter = (LatestJobStatus, "kind", "created_at", "owner")
    search_fields = ("title", "original_filename", "id", "sha256", "jobs__correlation_id")
    readonly_fields = (
        "id",
        "owner",
        "kind",
        "original_key",
        "original_filename",
        "size_bytes",
        "sha256",
        "probe_metadata",
        "created_at",
        "updated_at",
    )
    exclude = ("probe",)
    inlines = (JobInline, RenditionInline, CaptionTrackInline)
    actions = ("reencode",)

    def has_add_permission(self, request) -> bool:  # assets come from uploads
        return False

    @admin.display(description="Title", ordering="title")
    def display_title(self, obj: Asset) -> str:
        return str(obj)

    @admin.display(description="Size", ordering="size_bytes")
    def size(self, obj: Asset) -> str:
        return filesizeformat(obj.size_bytes)

    def get_queryset(self, request):
        return selectors.with_latest_job(super().get_queryset(request))  # the status column and filter

    @admin.display(description="Status", ordering="job_status")
    def status(self, obj: Asset) -> str:
        return Job.Status(obj.job_status).label if obj.job_status else "—"

    @admin.action(description="Re-encode with the current ladder")
    def reencode(self, request, queryset) -> None:
        started, busy = 0, 0
        for asset in queryset:
            try:
                services.asset_reprocess(asset_id=asset.pk)
                started += 1
            except ValueError:
                busy += 1
        self.message_user(request, f"{started} re-encode(s) queued; {busy} still processing, left alone.")

    # Deleting goes through the service so that stored files go too, and running work stops.
    def delete_model(self, request, obj: Asset) -> None:
        services.asset_delete(asset_id=obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        for asset_id in queryset.values_list("pk", flat=True):
            services.asset_delete(asset_id=asset_id)

    @admin.display(description="Probe metadata")
    def probe_metadata(self, obj: Asset) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.probe, indent=2, sort_keys=True))


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "type", "stage", "message", "worker_hostname")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(SystemMade, admin.ModelAdmin):
    inlines = (JobEventInline,)
    list_display = ("short_id", "asset", "status", "progress", "attempts", "worker_hostname", "created_at")
    list_filter = ("status", "asset__kind", "asset__owner", "created_at")
    search_fields = ("id", "correlation_id", "asset__original_filename", "asset__id")
    list_select_related = ("asset",)
    readonly_fields = [f.name for f in Job._meta.fields]
    actions = ("retry", "cancel")

    @admin.display(description="Job", ordering="created_at")
    def short_id(self, obj: Job) -> str:
        return str(obj.id)[:8]

    @admin.action(description="Retry (a new job for each failed or cancelled one)")
    def retry(self, request, queryset) -> None:
        retried, skipped = 0, []
        for job in queryset.select_related("asset"):
            if job.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
                skipped.append(f"{job}: it is {job.get_status_display().lower()}")
            elif job.asset.latest_job != job:
                skipped.append(f"{job}: a newer job exists for its asset")
            elif not job.retryable:
                skipped.append(f"{job}: the file is the reason ({job.error})")
            else:
                services.asset_reprocess(asset_id=job.asset_id)
                retried += 1
        self.message_user(request, f"{retried} job(s) queued again.", messages.SUCCESS if retried else messages.INFO)
        if skipped:
            self.message_user(request, "Skipped " + "; ".join(skipped) + ".", messages.WARNING)

    @admin.action(description="Cancel (stops ffmpeg within a second)")
    def cancel(self, request, queryset) -> None:
        cancelled = sum(
            services.job_cancel(job_id=job_id, reason=f"Cancelled by {request.user.get_username()}.")
            for job_id in queryset.values_list("pk", flat=True)
        )
        self.message_user(request, f"{cancelled} job(s) cancelled.", messages.SUCCESS if cancelled else messages.INFO)


@admin.register(Rendition)
class RenditionAdmin(SystemMade, admin.ModelAdmin):
    list_display = ("asset", *RENDITION_COLUMNS)
    list_filter = ("kind", "encoder")
    search_fields = ("asset__original_filename", "asset__id", "storage_key")
    list_select_related = ("asset",)


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ("hostname", "gpu_encoder", "hw_decode", "last_seen_at", "started_at")
    list_filter = ("gpu_encoder", "hw_decode")
    search_fields = ("hostname",)
    readonly_fields = ("hostname", "gpu_encoder", "hw_decode", "detection", "started_at", "last_seen_at")
    exclude = ("capabilities",)

    @admin.display(description="Encoder detection and decode benchmark")
    def detection(self, obj: Worker) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.capabilities, indent=2, sort_keys=True))

    def has_add_permission(self, request) -> bool:  # rows come from workers themselves
        return False


@admin.register(JobEvent)
class JobEventAdmin(SystemMade, admin.ModelAdmin):
    list_display = ("created_at", "job", "type", "stage", "message", "worker_hostname")
    list_filter = ("type", "stage", "created_at")
    search_fields = ("job__id", "job__correlation_id", "job__asset__original_filename", "message")
    list_select_related = ("job__asset",)
    readonly_fields = ("event_id", "job", "type", "stage", "message", "worker_hostname", "created_at")


@admin.register(Upload)
class UploadAdmin(SystemMade, admin.ModelAdmin):
    list_display = ("filename", "owner", "status", "size_bytes", "created_at", "completed_at")
    list_filter = ("status", "created_at")
    search_fields = ("id", "filename", "correlation_id", "owner__username")
    readonly_fields = [f.name for f in Upload._meta.fields]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made here or on the user's own page; the secret is shown once, after saving."""

    list_display = ("name", "owner", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at", "created_at")
    search_fields = ("name", "prefix", "owner__username")
    fields = ("owner", "name")
    actions = ("revoke",)

    def get_readonly_fields(self, request, obj=None):
        return ("owner", "name", "prefix", "created_at", "last_used_at", "revoked_at") if obj else ()

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj) or self.fields

    def save_model(self, request, obj: ApiToken, form, change) -> None:
        if change:
            return
        created = services.api_token_create(owner=obj.owner, name=obj.name)
        obj.pk = created.token.pk
        self.message_user(
            request,
            f"Token for {obj.owner}: {created.plaintext} — copy it now, it is not shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke")
    def revoke(self, request, queryset) -> None:
        revoked = sum(services.api_token_revoke(owner=t.owner, token_id=t.pk) for t in queryset)
        self.message_user(request, f"{revoked} token(s) revoked.")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "owner", "events", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "owner__username")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("number", "created_at", "status_code", "latency_ms", "response_excerpt", "error")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: every attempt's status code, latency and response excerpt."""

    list_display = ("event_type", "endpoint", "status", "attempts", "created_at", "delivered_at")
    list_filter = ("status", "event_type", "created_at")
    search_fields = ("event_id", "endpoint__url", "payload__correlation_id")
    readonly_fields = (
        "id",
        "endpoint",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "created_at",
        "delivered_at",
        "payload",
    )
    inlines = (WebhookAttemptInline,)
    actions = ("redeliver",)

    @admin.action(description="Redeliver")
    def redeliver(self, request, queryset) -> None:
        for delivery_id in queryset.values_list("pk", flat=True):
            services.webhook_redeliver(delivery_id=delivery_id)
        self.message_user(request, f"{queryset.count()} delivery(ies) queued again.")

    def has_add_permission(self, request) -> bool:
        return False


admin.site.site_header = "Media platform"
