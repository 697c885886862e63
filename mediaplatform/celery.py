"""The Celery app. Configuration comes from Django settings under the CELERY_ namespace."""

import os

from celery import Celery, signals

from media_tasks import correlation
from media_tasks.deadletter import DeadLetterConsumer

# Log lines everywhere (web, workers, billiard's pool) carry the job's correlation id.
correlation.install_log_record_factory()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediaplatform.settings")

# Every task's publish gives up after MEDIA_PUBLISH_TIMEOUT_S (media_tasks/publishing.py).
app = Celery("mediaplatform", task_cls="media_tasks.publishing:BoundedPublishTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every worker also drains the dead-letter queue (as data, not as tasks).
app.steps["consumer"].add(DeadLetterConsumer)


# Worker life cycle (encoder detection, queue choice, registry). The imports wait
# until a worker runs, when Django is set up.
@signals.celeryd_after_setup.connect
def _worker_setup(sender: str, instance, **kwargs) -> None:
    from media_tasks.worker import on_worker_setup

    on_worker_setup(hostname=sender, instance=instance)


@signals.worker_process_init.connect
def _pool_process_init(**kwargs) -> None:
    from media_tasks.worker import on_process_init

    on_process_init()


@signals.heartbeat_sent.connect
def _worker_heartbeat(**kwargs) -> None:
    from media_tasks.worker import on_heartbeat

    on_heartbeat()


@signals.task_prerun.connect
def _bind_correlation_id(task_id=None, task=None, args=(), kwargs=None, **extra) -> None:
    from media_tasks.correlation import bind_for_task

    bind_for_task(kwargs or {}, tuple(args or ()))


@signals.worker_shutdown.connect
def _worker_shutdown(**kwargs) -> None:
    from media_tasks.worker import on_worker_shutdown

    on_worker_shutdown()
