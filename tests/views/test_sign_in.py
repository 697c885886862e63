"""Sign-in throttled after repeated failures (issue 22, django-axes): the attacker is paused, the
account's owner elsewhere and other users are not."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def sign_in(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_repeated_failed_sign_ins_are_paused_with_a_page_that_says_so(django_user_model, settings):
    django_user_model.objects.create_user("carol", password="right-horse-battery")
    django_user_model.objects.create_user("dave", password="another-good-one")
    attacker = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(attacker, "carol", "guess").status_code == 200  # the form again, with its error
    assert sign_in(attacker, "carol", "guess").status_code == 429  # the last allowed failure pauses it
    locked = sign_in(attacker, "carol", "right-horse-battery")  # even the right password, for now
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.content.decode()
    assert sign_in(Client(), "carol", "right-horse-battery", address="10.0.0.2").status_code == 302
    assert sign_in(Client(), "dave", "another-good-one").status_code == 302


PROXY = "10.9.0.5"  # a TLS proxy in front of the site: every request comes from its address


def through_proxy(client: Client, username: str, password: str, forwarded: str):
    """A sign-in as the proxy passes it on: from the proxy's address, the client's in X-Forwarded-For."""
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_behind_a_trusted_proxy_each_client_has_its_own_lock(django_user_model, settings):
    """Every client shares the proxy's address: without the setting, one guesser locks the
    account for everyone. With it, the address the proxy wrote is the client's, and an entry the
    guesser writes himself (to the left of the proxy's) changes nothing."""
    settings.MEDIA_TRUSTED_PROXIES = ["10.9.0.0/16"]
    django_user_model.objects.create_user("carol", password="right-horse-battery")
    guesser = "203.0.113.7"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        through_proxy(Client(), "carol", "guess", guesser)
    assert through_proxy(Client(), "carol", "right-horse-battery", guesser).status_code == 429
    for forged in ("198.51.100.9", "198.51.100.10, 198.51.100.11"):  # forged entries, then the proxy's
        assert through_proxy(Client(), "carol", "guess", f"{forged}, {guesser}").status_code == 429
    # The owner, at another address behind the same proxy, signs in.
    assert through_proxy(Client(), "carol", "right-horse-battery", "198.51.100.2").status_code == 302


def test_without_the_setting_x_forwarded_for_is_ignored(django_user_model, settings):
    """A direct connection (the default): the header is the client's own word, so a guesser who
    writes a new one for each try is locked all the same."""
    assert not settings.MEDIA_TRUSTED_PROXIES
    django_user_model.objects.create_user("carol", password="right-horse-battery")
    for n in range(settings.AXES_FAILURE_LIMIT):
        through_proxy(Client(), "carol", "guess", f"198.51.100.{n}")
    assert through_proxy(Client(), "carol", "right-horse-battery", "198.51.100.200").status_code == 429
    assert sign_in(Client(), "carol", "right-horse-battery", address="10.0.0.2").status_code == 302
