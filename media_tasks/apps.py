from django.apps import AppConfig


class MediaTasksConfig(AppConfig):
    name = "media_tasks"
    verbose_name = "Media"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from PIL import Image

        # Pillow refuses images past twice this (DecompressionBombError) in every
        # process, whatever code path opens them.
        Image.MAX_IMAGE_PIXELS = settings.MEDIA_MAX_PIXELS

        from . import events
        from .services.webhooks import webhook_on_event

        events.subscribe(webhook_on_event)
