"""The Celery app. Configuration comes from Django settings under the CELERY_ namespace;
the worker's life-cycle hooks are connected by media_tasks.worker, loaded with the tasks."""

import os

from celery import Celery

from media_tasks import correlation

# Log lines everywhere (web, workers, billiard's pool) carry the job's correlation id.
correlation.install_log_record_factory()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediaplatform.settings")

# Every task's publish gives up after MEDIA_PUBLISH_TIMEOUT_S (media_tasks/publishing.py).
app = Celery("mediaplatform", task_cls="media_tasks.publishing:BoundedPublishTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
