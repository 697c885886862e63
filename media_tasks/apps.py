from django.apps import AppConfig
from django.conf import settings
from PIL import Image


class MediaTasksConfig(AppConfig):
    name = "media_tasks"
    verbose_name = "Media"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Pillow refuses images past twice this (DecompressionBombError) in every
        # process, whatever code path opens them.
        Image.MAX_IMAGE_PIXELS = settings.MEDIA_MAX_PIXELS

        # The event stream's subscribers and the tasks' signal receivers, connected once the
        # models are loaded (Django's place for it: https://docs.djangoproject.com/en/5.2/ref/applications/#django.apps.AppConfig.ready).
        from . import events, tasks
        from .services.webhooks import webhook_on_event

        events.subscribe(webhook_on_event)
        events.subscribe(tasks.on_job_event)
