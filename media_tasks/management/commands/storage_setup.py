"""Prepare the bucket for browsers: CORS for direct uploads and HLS playback (MEDIA_CORS_ORIGINS)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from media_tasks import storage


class Command(BaseCommand):
    help = "Set the bucket's CORS rule so that pages on MEDIA_CORS_ORIGINS can upload parts and play HLS."

    def handle(self, *args, **options) -> None:
        if not storage.multipart_supported():
            self.stdout.write("Filesystem storage: nothing to set up.")
            return
        storage.bucket_cors_ensure(settings.MEDIA_CORS_ORIGINS)
        self.stdout.write(f"Bucket CORS allows {', '.join(settings.MEDIA_CORS_ORIGINS)}.")
