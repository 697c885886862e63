"""Prometheus metrics, read at scrape time from the database and the broker.

Reading the recorded event stream (JobEvent rows) and the delivery log rather than
counting in memory keeps the figures right with many web and worker processes on many
hosts, with no push gateway or multiprocess directory to manage.
https://prometheus.github.io/client_python/collector/custom/
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from .models import Job, JobEvent, WebhookAttempt, WebhookDelivery

logger = logging.getLogger(__name__)
STAGE_WINDOW = timedelta(hours=1)


class MediaCollector(Collector):
    def collect(self):
        jobs = GaugeMetricFamily("media_jobs", "Jobs by state.", labels=["status"])
        counts = dict(Job.objects.values_list("status").annotate(n=Count("id")))
        for status in Job.Status.values:
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs

        yield from self._stage_durations()

        depth = GaugeMetricFamily("media_queue_messages", "Messages waiting in each queue.", labels=["queue"])
        for queue, messages in queue_depths().items():
            depth.add_metric([queue], messages)
        yield depth

        attempts = CounterMetricFamily(
            "media_webhook_attempts", "Webhook delivery attempts by outcome.", labels=["outcome"]
        )
        ok = WebhookAttempt.objects.filter(status_code__gte=200, status_code__lt=300).count()
        attempts.add_metric(["success"], ok)
        attempts.add_metric(["failure"], WebhookAttempt.objects.count() - ok)
        yield attempts
        deliveries = GaugeMetricFamily("media_webhook_deliveries", "Webhook deliveries by state.", labels=["status"])
        by_status = dict(WebhookDelivery.objects.values_list("status").annotate(n=Count("id")))
        for status in WebhookDelivery.Status.values:
            deliveries.add_metric([status], by_status.get(status, 0))
        yield deliveries

    def _stage_durations(self):
        """Average and longest time per stage over the last hour, from consecutive events of each job."""
        since = timezone.now() - STAGE_WINDOW
        durations: dict[str, list[float]] = defaultdict(list)
        previous: dict[int, JobEvent] = {}
        for event in (
            JobEvent.objects.filter(created_at__gte=since)
            .only("job_id", "type", "stage", "created_at")
            .order_by("job_id", "created_at", "id")
        ):
            before = previous.get(event.job_id)
            if before is not None and before.type == JobEvent.Type.STAGE:
                durations[before.stage].append((event.created_at - before.created_at).total_seconds())
            previous[event.job_id] = event
        average = GaugeMetricFamily(
            "media_stage_duration_seconds_avg", "Mean stage duration over the last hour.", labels=["stage"]
        )
        longest = GaugeMetricFamily(
            "media_stage_duration_seconds_max", "Longest stage duration over the last hour.", labels=["stage"]
        )
        finished = GaugeMetricFamily("media_stages_finished", "Stages finished in the last hour.", labels=["stage"])
        for stage, values in sorted(durations.items()):
            average.add_metric([stage], sum(values) / len(values))
            longest.add_metric([stage], max(values))
            finished.add_metric([stage], len(values))
        yield from (average, longest, finished)


def queue_depths() -> dict[str, int]:
    """Ready messages per queue, by passive declare (creates nothing). Empty if the broker is down."""
    names = [q.name for q in settings.CELERY_TASK_QUEUES] + [settings.MEDIA_QUEUE_DEAD]
    depths = {}
    try:
        with current_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            for name in names:
                channel = conn.channel()
                try:
                    depths[name] = channel.queue_declare(name, passive=True).message_count
                except Exception:  # not declared yet (no worker started): nothing waiting
                    depths[name] = 0
                finally:
                    # The broker has closed the channel itself after a failed passive declare.
                    with contextlib.suppress(Exception):
                        channel.close()
    except Exception as exc:
        logger.warning("metrics: broker unreachable for queue depths: %s", exc)
    return depths


# Its own registry: /metrics shows these figures, not the process's default collectors.
registry = CollectorRegistry()
registry.register(MediaCollector())
