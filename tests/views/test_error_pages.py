"""Styled 404 and 500 pages with a way back (issue 22); the API keeps its JSON errors."""

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db


def test_a_missing_page_is_styled_with_a_way_back(alice_client):
    response = alice_client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "This page is not here" in html and 'href="/assets/"' in html and "site.css" in html
    api = alice_client.get("/api/v1/no-such-endpoint")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def test_a_server_error_page_needs_nothing_but_the_template():
    response = server_error(RequestFactory().get("/assets/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html and 'href="/"' in html and "Nothing you uploaded is lost" in html
