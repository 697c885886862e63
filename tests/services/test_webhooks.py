"""Webhook delivery, one attempt at a time (the Celery task only schedules the next one)."""

import socket

import pytest

from media_tasks import events, services
from media_tasks.models import CaptionTrack, JobEvent, WebhookDelivery
from media_tasks.processing import transitions
from media_tasks.services.errors import ServiceError
from media_tasks.services.webhooks import backoff_s, sign
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(user, fs_storage):
    import io

    return services.asset_create(owner=user, fileobj=io.BytesIO(b"x" * 10), filename="a.png", size_bytes=10).job


def deliveries_for(endpoint, event_type):
    return list(WebhookDelivery.objects.filter(endpoint=endpoint, event_type=event_type))


def test_signature_is_hmac_sha256_over_timestamp_and_body():
    header = sign(secret="s3cret", timestamp=1700000000, body=b'{"a":1}')
    assert header == "t=1700000000,v1=" + __import__("hmac").new(b"s3cret", b'1700000000.{"a":1}', "sha256").hexdigest()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_loopback_and_link_local_targets_are_refused(user, settings, url):
    settings.MEDIA_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ServiceError) as refused:
        services.webhook_endpoint_create(owner=user, url=url)
    assert refused.value.code == "forbidden_target" and refused.value.field == "url"


def test_a_name_that_resolves_to_our_network_when_we_connect_is_refused(job, user, settings, monkeypatch):
    """DNS rebinding: the name looks public to the check, then points at loopback for the
    connection (urllib3 resolves it again, asking for stream sockets)."""
    settings.MEDIA_WEBHOOK_ALLOW_PRIVATE = False
    real = socket.getaddrinfo

    def rebinding(host, port, family=0, type=0, *args, **kwargs):
        if host != "hooks.example.com":
            return real(host, port, family, type, *args, **kwargs)
        if type == socket.SOCK_STREAM:  # the connection
            return real("127.0.0.1", port, family, type, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]  # the check

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with Receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        endpoint = services.webhook_endpoint_create(
            owner=user, url=f"http://hooks.example.com:{port}/hook", events=["job.failed"]
        )
        transitions.job_mark_failed(job_id=job.id, reason="x")
        (delivery,) = deliveries_for(endpoint, "job.failed")
        outcome = services.webhook_deliver(delivery_id=delivery.pk)
        assert receiver.received == []
    assert not outcome.delivered and outcome.retry_in is not None
    (attempt,) = delivery.attempt_log.all()
    assert attempt.status_code is None and "public address" in attempt.error


def test_other_schemes_and_unknown_events_are_refused(user):
    with pytest.raises(ServiceError):
        services.webhook_endpoint_create(owner=user, url="file:///etc/passwd")
    with pytest.raises(ServiceError):
        services.webhook_endpoint_create(owner=user, url="http://127.0.0.1/", events=["job.exploded"])


def test_failed_attempts_are_logged_and_retried_until_it_is_accepted(job, user):
    key = f"hls/{job.asset_id}/captions/en-1.vtt"
    CaptionTrack.objects.create(asset=job.asset, language="en", label="English", storage_key=key, cues=3)
    with Receiver(answers={"job.failed": [500, 503]}) as receiver:
        endpoint = services.webhook_endpoint_create(owner=user, url=receiver.url, events=["job.failed"])
        receiver.secret = endpoint.secret
        transitions.job_mark_failed(job_id=job.id, reason="It broke.")
        (delivery,) = deliveries_for(endpoint, "job.failed")
        outcomes = [services.webhook_deliver(delivery_id=delivery.pk) for _ in range(3)]
    assert [o.delivered for o in outcomes] == [False, False, True]
    assert all(o.retry_in is not None for o in outcomes[:2]) and outcomes[2].retry_in is None
    log = list(delivery.attempt_log.values_list("number", "status_code"))
    assert log == [(1, 500), (2, 503), (3, 200)]
    assert delivery.attempt_log.last().response_excerpt == "ok"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.SUCCEEDED, 3)
    received = receiver.of_type("job.failed")
    assert all(r["valid"] for r in received)
    assert {r["payload"]["id"] for r in received} == {delivery.event_id}  # retries keep the event id
    body = received[-1]["payload"]
    assert body["correlation_id"] == job.correlation_id == received[-1]["headers"]["X-Correlation-ID"]
    assert body["data"]["asset"]["id"] == str(job.asset_id) and body["data"]["job"]["error"] == "It broke."
    assert body["data"]["asset"]["captions"] == [{"language": "en", "label": "English", "cues": 3}]


def test_it_gives_up_after_the_maximum_attempts(job, user, settings):
    settings.MEDIA_WEBHOOK_MAX_ATTEMPTS = 2
    with Receiver(answers={"job.cancelled": [500] * 5}) as receiver:
        endpoint = services.webhook_endpoint_create(owner=user, url=receiver.url)
        services.job_cancel(job_id=job.id)
        (delivery,) = deliveries_for(endpoint, "job.cancelled")
        first = services.webhook_deliver(delivery_id=delivery.pk)
        second = services.webhook_deliver(delivery_id=delivery.pk)
    assert first.retry_in is not None and second.retry_in is None and not second.delivered
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED


def test_redirects_are_not_followed_and_slow_receivers_time_out(job, user, settings):
    settings.MEDIA_WEBHOOK_READ_TIMEOUT_S = 0.5
    with Receiver(answers={"job.failed": [302]}) as receiver:
        endpoint = services.webhook_endpoint_create(owner=user, url=receiver.url, events=["job.failed"])
        transitions.job_mark_failed(job_id=job.id, reason="x")
        (delivery,) = deliveries_for(endpoint, "job.failed")
        services.webhook_deliver(delivery_id=delivery.pk)
        assert len(receiver.received) == 1  # nobody went to the Location
        receiver.delay_s = 2
        services.webhook_deliver(delivery_id=delivery.pk)
    codes = list(delivery.attempt_log.values_list("status_code", "error"))
    assert codes[0] == (302, "HTTP 302")
    assert codes[1][0] is None and "Timeout" in codes[1][1]


def test_only_chosen_events_and_progress_is_not_recorded(job, user):
    with Receiver() as receiver:
        endpoint = services.webhook_endpoint_create(owner=user, url=receiver.url, events=["job.progress"])
        events.publish(job_id=job.id, type=JobEvent.Type.PROGRESS, message="40%", record=False)
        events.publish(job_id=job.id, type=JobEvent.Type.NOTE, message="note")
    assert [d.event_type for d in WebhookDelivery.objects.filter(endpoint=endpoint)] == ["job.progress"]
    assert not JobEvent.objects.filter(job=job, type=JobEvent.Type.PROGRESS).exists()


def test_backoff_grows_with_full_jitter(settings):
    settings.MEDIA_WEBHOOK_BACKOFF_BASE_S, settings.MEDIA_WEBHOOK_BACKOFF_MAX_S = 10, 3600
    samples = [backoff_s(5) for _ in range(200)]
    assert min(samples) >= 1 and max(samples) <= 160 and max(samples) > 80  # spread over [1, 10·2⁴]
    assert max(backoff_s(30) for _ in range(50)) <= 3600


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:18557\\@1.1.1.1/",  # the check read host 1.1.1.1, requests connected to 127.0.0.1
        "http://user:pass@1.1.1.1/hook",  # userinfo: nothing a receiver needs, and read differently by clients
        "http://1.1.1.1/hook#fragment",
        "http://1.1.1.1 /hook",
        "http://0x7f.1/hook",  # inet_aton shorthand for 127.0.0.1
        "http://[fe80::1%25eth0]/hook",
    ],
)
def test_urls_the_client_would_read_differently_are_refused(user, settings, url):
    settings.MEDIA_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ServiceError) as refused:
        services.webhook_endpoint_create(owner=user, url=url)
    assert refused.value.code == "invalid_url" and refused.value.field == "url"


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::7f00:1]/hook",  # NAT64 of 127.0.0.1
        "http://[64:ff9b:1::a00:1]/hook",  # local-use NAT64
        "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
        "http://[2002:c0a8:1::1]/hook",  # 6to4 of 192.168.0.1
        "http://[::127.0.0.1]/hook",  # IPv4-compatible
        "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
        "http://[::ffff:10.0.0.1]/hook",
        "http://[fec0::1]/hook",  # site-local
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",  # teredo
    ],
)
def test_ipv6_forms_that_embed_or_reach_a_private_address_are_refused(user, settings, url):
    settings.MEDIA_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ServiceError) as refused:
        services.webhook_endpoint_create(owner=user, url=url)
    assert refused.value.code == "forbidden_target" and refused.value.field == "url"


def test_the_url_checked_is_the_url_sent(user, settings):
    """One parse: the endpoint stores the URL as the check read it, and the client sends to that."""
    endpoint = services.webhook_endpoint_create(owner=user, url="HTTP://Hooks.Example.COM:8443/a/b?x=1")
    assert endpoint.url == "http://hooks.example.com:8443/a/b?x=1"
