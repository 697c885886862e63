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
