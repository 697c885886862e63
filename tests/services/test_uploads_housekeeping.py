from datetime import timedelta

import pytest
from django.utils import timezone

from media_tasks.models import Upload, WebhookDelivery
from media_tasks.services import uploads as upload_service
from media_tasks.services import webhook_deliveries_stalled, webhook_endpoint_create

pytestmark = pytest.mark.django_db


def test_abandoned_direct_uploads_are_aborted_with_their_parts(user, s3_storage):
    old = upload_service.upload_start(owner=user, filename="old.mp4", size_bytes=10)
    fresh = upload_service.upload_start(owner=user, filename="new.mp4", size_bytes=10)
    Upload.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert upload_service.uploads_abort_stale(older_than_s=86400) == 1
    statuses = dict(Upload.objects.values_list("filename", "status"))
    assert statuses == {"old.mp4": "aborted", "new.mp4": "open"}
    open_keys = [u["Key"] for u in s3_storage.list_multipart_uploads(Bucket=s3_storage.bucket).get("Uploads", [])]
    assert fresh.storage_key in open_keys and old.storage_key not in open_keys


def test_a_delivery_whose_retry_was_lost_is_found_again(user, settings):
    endpoint = webhook_endpoint_create(owner=user, url="http://127.0.0.1:9/x")
    lost = WebhookDelivery.objects.create(endpoint=endpoint, event_id="evt_1", event_type="job.failed", payload={})
    WebhookDelivery.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.MEDIA_WEBHOOK_BACKOFF_MAX_S + 600)
    )
    WebhookDelivery.objects.create(endpoint=endpoint, event_id="evt_2", event_type="job.failed", payload={})
    assert webhook_deliveries_stalled() == [lost.pk]
