import pytest
from django.test import Client

from media_tasks import services


@pytest.fixture
def token(user) -> str:
    return services.api_token_create(owner=user, name="tests").plaintext


@pytest.fixture
def api(client, token):
    """A Django test client that sends alice's API token."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def other_api(other_user):
    other = Client()
    other.defaults["HTTP_AUTHORIZATION"] = f"Bearer {services.api_token_create(owner=other_user, name='x').plaintext}"
    return other
