"""Celery worker life cycle: find this box's encoders at start, pick queues, keep the registry fresh.

Connected to Celery's signals here, when the tasks module that imports this is loaded: a
worker loads it (with Django set up) before it builds its consumer. The capabilities are
kept in an environment variable so the pool's child processes, forked after
start-up, see the same answer without testing the encoders again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from celery import current_app, signals
from django.conf import settings
from django.db import close_old_connections, connection

from . import correlation, deadletter, services, storage
from .models import Job
from .pipeline.encoders import WorkerCapabilities, find_capabilities
from .processing import rescue
from .processing.db_outage import DATABASE_ERRORS

logger = logging.getLogger(__name__)

CAPABILITIES_ENV = "MEDIA_WORKER_CAPABILITIES"
HEARTBEAT_EVERY_S = 15
_state: dict[str, Any] = {"hostname": None, "last_beat": 0.0, "last_sweep": 0.0, "db_down": False}


def local_capabilities() -> WorkerCapabilities:
    """This worker's capabilities; CPU only outside a worker (or before start-up finished)."""
    raw = os.environ.get(CAPABILITIES_ENV)
    return WorkerCapabilities.from_dict(json.loads(raw)) if raw else WorkerCapabilities()


def on_worker_setup(*, hostname: str, instance: Any) -> None:
    storage.use_worker_client_config()  # before any S3 call; the pool's processes inherit it
    capabilities = find_capabilities(
        gpu_mode=settings.MEDIA_GPU_ENCODE,
        forced_encoder=settings.MEDIA_GPU_ENCODER,
        decode_mode=settings.MEDIA_HW_DECODE,
    )
    os.environ[CAPABILITIES_ENV] = json.dumps(capabilities.as_dict())
    queues = instance.app.amqp.queues
    gpu_queue = settings.MEDIA_QUEUE_TRANSCODE_GPU
    if capabilities.gpu_encoder:
        # The Queue object itself, not its name: a bare name would redeclare the queue
        # without its TTL/dead-letter arguments and RabbitMQ would refuse it.
        queues.select_add(queues[gpu_queue])
        logger.info("worker %s takes GPU work on %s: %s", hostname, gpu_queue, capabilities.reason)
    else:
        queues.deselect(gpu_queue)
        logger.info("worker %s is CPU only: %s", hostname, capabilities.reason)
        # Declared all the same (not consumed): producers route to it, and Celery's
        # delayed-delivery set-up binds every known queue and fails on a missing one.
        with instance.app.connection_for_write() as conn:
            queues[gpu_queue].bind(conn.default_channel).declare()
    logger.info("worker %s GPU decode: %s", hostname, capabilities.decode.get("reason", "off"))
    _state["hostname"] = hostname
    services.worker_register(hostname=hostname, capabilities=capabilities)
    _remove_stale_workdirs()


def on_process_init() -> None:
    """In each pool process as it starts, before it takes a task: what every job would
    otherwise pay on that process's first one (Celery kills a process whose start takes
    over 4 s, and this takes a fraction of one)."""
    try:
        storage.connect()
    except Exception:  # the first transfer makes the client itself, as before
        logger.exception("could not prepare the storage client")


def _remove_stale_workdirs() -> None:
    # Temp directories are per machine, so every worker sweeps its own disk (at start
    # and hourly) instead of one beat task sweeping whichever machine it runs on.
    _state["last_sweep"] = time.monotonic()
    removed = rescue.workdirs_remove_stale(max_age_s=settings.MEDIA_WORKDIR_MAX_AGE_S)
    if removed:
        logger.info("removed %d stale job directories from %s", removed, settings.MEDIA_WORK_DIR)


def on_heartbeat() -> None:
    """Celery's event heartbeat fires every 2 s; the registry needs far fewer writes. Neither a
    database outage nor a disk error may take the worker's event loop down, or stop the other."""
    now = time.monotonic()
    if not _state["hostname"] or now - _state["last_beat"] < HEARTBEAT_EVERY_S:
        return
    _state["last_beat"] = now
    _touch_registry()
    if now - _state["last_sweep"] >= 3600:
        try:
            _remove_stale_workdirs()
        except Exception:
            logger.exception("sweeping the work folders failed")


def _touch_registry() -> None:
    # The main process runs no request or task that would drop a dead connection: after a
    # database restart it must drop its own, or it keeps failing on the closed one for ever.
    close_old_connections()
    try:
        services.worker_heartbeat(hostname=_state["hostname"], capabilities=local_capabilities())
    except DATABASE_ERRORS as exc:
        connection.close()
        if not _state["db_down"]:  # one line per outage, not one per beat
            logger.warning("worker registry not updated: the database is out of reach (%s)", exc)
        _state["db_down"] = True
        return
    except Exception:
        logger.exception("worker housekeeping failed")
        return
    if _state["db_down"]:
        logger.info("worker registry updated again: the database is back")
    _state["db_down"] = False


def on_worker_shutdown() -> None:
    if _state["hostname"]:
        connection.close()  # a fresh one: the last may have died with a database restart
        try:
            services.worker_unregister(hostname=_state["hostname"])
        except Exception:
            logger.exception("could not unregister the worker")


def bind_correlation_id(task_kwargs: dict, task_args: tuple) -> None:
    """Before a task runs: bind the correlation id of the job it works on (if any) to its log lines."""
    job_id = task_kwargs.get("job_id") or (task_args[0] if task_args else None)
    value = None
    if job_id:
        try:
            value = Job.objects.filter(pk=job_id).values_list("correlation_id", flat=True).first()
        except Exception:  # a malformed id or an unreachable database: logging must not fail the task
            value = None
    correlation.bind(value)


@signals.celeryd_after_setup.connect
def _worker_setup(sender: str, instance: Any, **kwargs: Any) -> None:
    on_worker_setup(hostname=sender, instance=instance)


@signals.worker_process_init.connect
def _pool_process_init(**kwargs: Any) -> None:
    on_process_init()


@signals.heartbeat_sent.connect
def _worker_heartbeat(**kwargs: Any) -> None:
    on_heartbeat()


@signals.task_prerun.connect
def _bind_correlation_id(
    task_id: str | None = None, task: Any = None, args: Any = (), kwargs: Any = None, **extra: Any
) -> None:
    bind_correlation_id(kwargs or {}, tuple(args or ()))


@signals.worker_shutdown.connect
def _worker_shutdown(**kwargs: Any) -> None:
    on_worker_shutdown()


# Every worker also drains the dead-letter queue (as data, not as tasks).
current_app.steps["consumer"].add(deadletter.DeadLetterConsumer)
