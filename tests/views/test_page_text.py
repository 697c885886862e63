"""The item's and the shared page's text (issue 28, section 4): links in a description are
clickable and safe, the description comes before Details, and the shared page's site name does
not send a viewer without an account to the sign-in page."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from media_tasks import services
from tests.views.test_library import bulk_assets

pytestmark = pytest.mark.django_db

DESCRIPTION = (
    "Filmed at https://example.org/harbour?day=1&light=dusk, see <b>also</b> http://example.com/a.\n"
    "Not a link: javascript:alert(1) nor ftp://example.org/x nor data:text/html,hi"
)


def test_links_in_a_description_are_safe_links_and_it_comes_before_details(alice_client, user, fs_storage):
    (asset,) = bulk_assets(user, ["clip.mp4"])
    services.asset_update(asset_id=asset.id, description=DESCRIPTION)
    html = alice_client.get(reverse("asset_detail", args=[asset.id])).content.decode()
    (description,) = re.findall(r'<div class="description">(.*?)</div>', html, re.S)
    links = re.findall(r"<a [^>]*>", description)
    assert links == [
        '<a href="https://example.org/harbour?day=1&amp;light=dusk" rel="nofollow ugc noopener">',
        '<a href="http://example.com/a" rel="nofollow ugc noopener">',
    ], description
    assert "&lt;b&gt;also&lt;/b&gt;" in description and "<b>" not in description
    assert "javascript:alert(1)" in description and 'href="javascript' not in description
    assert html.index('class="description"') < html.index('id="details"'), "the description before Details"


def test_the_shared_page_sends_nobody_to_sign_in(user, fs_storage):
    (asset,) = bulk_assets(user, ["clip.mp4"])
    services.asset_update(asset_id=asset.id, description="More at https://example.org/more")
    shared = services.asset_share(asset_id=asset.id, shared=True)
    html = Client().get(reverse("shared", args=[shared.share_token])).content.decode()
    assert reverse("login") not in html and f'href="{reverse("asset_list")}"' not in html
    assert '<a href="https://example.org/more" rel="nofollow ugc noopener">' in html
