import pytest
from django.test import Client

from media_tasks import services


@pytest.fixture
def other_api(other_user):
    other = Client()
    other.defaults["HTTP_AUTHORIZATION"] = f"Bearer {services.api_token_create(owner=other_user, name='x').plaintext}"
    return other
