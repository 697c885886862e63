"""Prepare the bucket: create it when missing (a new MinIO or S3 account), then CORS for
direct uploads and HLS playback (MEDIA_CORS_ORIGINS)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from media_tasks import storage


class Command(BaseCommand):
    help = "Create the bucket if it is missing and set its CORS rule for MEDIA_CORS_ORIGINS (uploads, HLS)."

    def handle(self, *args, **options) -> None:
        if not storage.multipart_supported():
            self.stdout.write("Filesystem storage: nothing to set up.")
            return
        name = storage.bucket_name()
        self.stdout.write(f"Created bucket {name}." if storage.bucket_ensure() else f"Bucket {name} exists.")
        storage.bucket_cors_ensure(settings.MEDIA_CORS_ORIGINS)
        self.stdout.write(f"Bucket CORS allows {', '.join(settings.MEDIA_CORS_ORIGINS)}.")
