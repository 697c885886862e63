"""Delete this deployment's RabbitMQ queues and exchanges so the workers declare them afresh.

Needed once when queue arguments or exchange types change (RabbitMQ answers a
redeclaration with PRECONDITION_FAILED), e.g. moving from classic to quorum queues.
Refuses while a queue holds messages, unless --force.
"""

from amqp.exceptions import NotFound
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mediaplatform.celery import app


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="delete queues even if they hold messages")

    def handle(self, *args, force: bool, **options) -> None:
        names = [q.name for q in settings.CELERY_TASK_QUEUES] + [settings.MEDIA_QUEUE_DEAD]
        with app.connection_for_write() as conn:
            for name in names:
                channel = conn.channel()
                try:
                    _, messages, _ = channel.queue_declare(name, passive=True)
                except NotFound:
                    channel = conn.channel()  # a failed passive declare closes the channel
                    self.stdout.write(f"no queue {name}")
                else:
                    if messages and not force:
                        raise CommandError(f"{name} holds {messages} messages; drain it or use --force")
                    channel.queue_delete(name)
                    self.stdout.write(f"deleted {name} ({messages} messages)")
                channel.exchange_delete(name)
                channel.close()
