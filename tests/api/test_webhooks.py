"""Registering webhook endpoints through the API: bad and hostile URLs get a clear 4xx, never a 500."""

import pytest

from media_tasks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def register(api, url):
    return api.post("/api/v1/webhooks", {"url": url}, content_type="application/json")


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com:99999/hook",
        "http://hooks.example.com:abc/hook",
        "http://[::1/hook",
        "http://a..b/hook",
        f"http://{'a' * 64}.example.com/hook",
        "http://hooks.example.com:0/hook",
        "http:///hook",
    ],
)
def test_malformed_urls_are_refused_with_400(api, settings, url):
    settings.MEDIA_WEBHOOK_ALLOW_PRIVATE = False
    response = register(api, url)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_url" and error["fields"][0]["field"] == "url"
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:18557\\@1.1.1.1/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::]/",
        "http://[::127.0.0.1]/",
        "http://[fec0::1]/",
    ],
)
def test_hostile_urls_are_refused_at_registration(api, settings, url):
    settings.MEDIA_WEBHOOK_ALLOW_PRIVATE = False
    response = register(api, url)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("invalid_url", "forbidden_target")
    assert not WebhookEndpoint.objects.exists()


def test_a_public_literal_is_accepted(api, settings):
    settings.MEDIA_WEBHOOK_ALLOW_PRIVATE = False
    response = register(api, "https://[2606:4700:4700::1111]:8443/hook")
    assert response.status_code == 201, response.content
    assert response.json()["url"] == "https://[2606:4700:4700::1111]:8443/hook"
