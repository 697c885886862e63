"""Unlisted sharing (issue 22): off by default; on, anyone with the link watches without an
account and other sites may embed the player; off again, the old link is dead. Nobody but the
owner turns it on or off, and the rest of the site stays unframeable."""

import re
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse
from PIL import Image

from media_tasks import presenters, services
from media_tasks.models import Asset
from media_tasks.processing import finalize, images, probe
from tests.playback import make_ready_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(user, fs_storage, monkeypatch, tmp_path) -> Asset:
    return make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, tone=659)


def test_a_share_link_plays_for_anyone_until_its_owner_turns_it_off(alice_client, api, ready):
    assert api.get(f"/api/v1/assets/{ready.id}").json()["share_url"] is None  # off by default
    alice_client.post(reverse("asset_share", args=[ready.id]), {"shared": "on"})
    ready.refresh_from_db()
    anyone = Client()
    page = anyone.get(reverse("shared", args=[ready.share_token]))
    html = page.content.decode()
    assert page.status_code == 200 and "<h1>clip.mp4</h1>" in html
    assert re.search(r'data-hls="/play/[^"]+/master\.m3u8"', html), "the player needs no cookie"
    assert page["X-Frame-Options"] == "DENY" and page["Referrer-Policy"] == "no-referrer"
    embed = anyone.get(reverse("shared_embed", args=[ready.share_token]))
    assert embed.status_code == 200 and "X-Frame-Options" not in embed
    assert "frame-ancestors *" in embed["Content-Security-Policy"]
    assert "script-src 'self'" in embed["Content-Security-Policy"]
    detail = alice_client.get(reverse("asset_detail", args=[ready.id]))
    assert detail["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in detail["Content-Security-Policy"]
    body = api.get(f"/api/v1/assets/{ready.id}").json()
    assert body["share_url"].endswith(f"/s/{ready.share_token}/") and body["embed_url"].startswith("http")

    old = ready.share_token
    alice_client.post(reverse("asset_share", args=[ready.id]), {"shared": "off"})
    assert anyone.get(reverse("shared", args=[old])).status_code == 404
    assert anyone.get(reverse("shared_embed", args=[old])).status_code == 404


def test_only_the_owner_shares_and_nothing_unshared_is_reachable(client, api, other_user, ready):
    client.force_login(other_user)
    assert client.post(reverse("asset_share", args=[ready.id]), {"shared": "on"}).status_code == 404
    ready.refresh_from_db()
    assert ready.share_token == ""
    assert Client().get(reverse("shared", args=["x" * 24])).status_code == 404
    shared = api.patch(f"/api/v1/assets/{ready.id}", {"shared": True}, content_type="application/json").json()
    assert shared["share_url"] and Client().get(shared["share_url"]).status_code == 200


def test_stopping_sharing_stops_the_links_the_shared_page_gave(alice_client, ready):
    """The page's HLS link, its video sources and its poster were all taken from the shared page
    by someone with no account: once sharing stops, none of them plays any more."""
    alice_client.post(reverse("asset_share", args=[ready.id]), {"shared": "on"})
    ready.refresh_from_db()
    anyone = Client()
    html = anyone.get(reverse("shared", args=[ready.share_token])).content.decode()
    links = [re.search(r'data-hls="([^"]+)"', html).group(1), *re.findall(r'(?:src|poster)="(/files/[^"]+)"', html)]
    assert len(links) >= 3, links
    assert all(anyone.get(link).status_code == 200 for link in links)
    alice_client.post(reverse("asset_share", args=[ready.id]), {"shared": "off"})
    assert [anyone.get(link).status_code for link in links] == [404] * len(links)
    # The owner's own links (the API's, the page's) are not shared links: they go on working.
    own = presenters.playback_url(asset=ready)
    assert anyone.get(own).status_code == 200


def test_the_embed_code_takes_the_videos_shape(alice_client, user, fs_storage, monkeypatch, tmp_path):
    """A portrait video's iframe is upright, not a 640×360 strip with the picture in its middle."""
    portrait = make_ready_video(user, tmp_path / "phone.mp4", monkeypatch, size=(360, 640))
    alice_client.post(reverse("asset_share", args=[portrait.id]), {"shared": "on"})
    html = alice_client.get(reverse("asset_detail", args=[portrait.id])).content.decode()
    assert 'width="360" height="640"' in unescape(re.search(r'id="embed-code"[^>]*value=\'([^\']+)\'', html).group(1))


def test_a_landscape_embed_keeps_its_width(alice_client, ready):
    alice_client.post(reverse("asset_share", args=[ready.id]), {"shared": "on"})
    html = alice_client.get(reverse("asset_detail", args=[ready.id])).content.decode()
    assert 'width="640" height="360"' in unescape(re.search(r'id="embed-code"[^>]*value=\'([^\']+)\'', html).group(1))


def test_the_shared_player_has_its_scrubbing_previews_with_no_account(alice_client, ready):
    alice_client.post(reverse("asset_share", args=[ready.id]), {"shared": "on"})
    ready.refresh_from_db()
    anyone = Client()
    html = anyone.get(reverse("shared", args=[ready.share_token])).content.decode()
    vtt_url = re.search(r'data-sprite-vtt="([^"]+)"', html).group(1)
    vtt = anyone.get(vtt_url)
    assert vtt.status_code == 200 and vtt.content.startswith(b"WEBVTT")
    sprite = anyone.get(vtt_url.replace("sprite.vtt", "sprite.jpg"))
    assert sprite.status_code == 200 and b"".join(sprite.streaming_content)[:2] == b"\xff\xd8"
    # Only the sprite: the link opens no other thumbnail, nor anything outside the asset.
    for name in ("thumbs/frame-10.jpg", "thumbs/../renditions/360p.mp4", "originals/source"):
        assert anyone.get(vtt_url.replace("thumbs/sprite.vtt", name)).status_code == 404, name


def make_ready_image(user, path, monkeypatch) -> Asset:
    """An uploaded photo with its sizes made here, as a worker would."""
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    Image.new("RGB", (800, 600), (40, 120, 200)).save(path)
    with path.open("rb") as fh:
        job = services.asset_create(owner=user, fileobj=fh, filename=path.name, size_bytes=path.stat().st_size).job
    assert probe.job_probe(job_id=job.id, worker="t") == "image"
    assert images.job_make_image_variants(job_id=job.id, worker="t")
    assert finalize.job_finalize(job_id=job.id, worker="t")
    return Asset.objects.get(pk=job.asset_id)


def given_links(html: str) -> list[str]:
    """Every file link a shared page or embed gives a viewer: HLS, previews, sources, poster, image sizes."""
    links = re.findall(r'(?:data-hls|data-sprite-vtt|src|poster)="([^"]+)"', html)
    links += [part.split()[0] for srcset in re.findall(r'srcset="([^"]+)"', html) for part in srcset.split(",")]
    return sorted({unescape(link) for link in links if link and "/static/" not in link})


def fetch(anyone: Client, link: str) -> tuple[int, str]:
    """What a viewer with no cookie gets from a link: (status, the presigned URL it was sent to, if any),
    following our redirect to S3 as a browser does."""
    if link.startswith("http"):  # a presigned URL handed out as it is
        return requests.get(link, timeout=30).status_code, link
    response = anyone.get(link)
    if response.status_code == 302:
        target = response["Location"]
        return requests.get(target, timeout=30).status_code, target
    return response.status_code, ""


def first_uri(anyone: Client, playlist: str) -> str:
    """The first URI a playlist names, resolved as a player does: a variant, or a segment."""
    text = anyone.get(playlist).content.decode()
    return urljoin(playlist, next(line for line in text.splitlines() if line and line[0] != "#"))


def test_on_s3_stopping_sharing_stops_every_link_the_shared_page_and_embed_gave(
    alice_client, user, s3_storage, monkeypatch, tmp_path, settings
):
    """S3's presigned URLs cannot be revoked: the pages give our own links, checked against the
    share on every request, which send the viewer on to a presigned URL living only seconds."""
    video = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    photo = make_ready_image(user, tmp_path / "photo.jpg", monkeypatch)
    anyone, given = Client(), {}
    for asset in (video, photo):
        alice_client.post(reverse("asset_share", args=[asset.id]), {"shared": "on"})
        asset.refresh_from_db()
        for page in ("shared", "shared_embed"):
            html = anyone.get(reverse(page, args=[asset.share_token])).content.decode()
            given[(asset.id, page)] = given_links(html)
    links = sorted({link for found in given.values() for link in found})
    # The HLS segments: the playback link sends a player on to S3 for each one.
    master = next(link for link in links if link.endswith("master.m3u8"))
    links.append(first_uri(anyone, first_uri(anyone, master)))
    assert len(links) >= 8, links  # HLS, sprite map, poster, two MP4s, segment, the photo's sizes
    before = {link: fetch(anyone, link) for link in links}
    assert all(status == 200 for status, _ in before.values()), before
    for _, target in before.values():
        if target:  # where we sent the viewer lives seconds, not S3_PRESIGNED_EXPIRY_S
            expires = int(parse_qs(urlsplit(target).query)["X-Amz-Expires"][0])
            assert expires == settings.MEDIA_SHARED_REDIRECT_EXPIRY_S < settings.MEDIA_PRESIGNED_EXPIRY_S, target

    for asset in (video, photo):
        alice_client.post(reverse("asset_share", args=[asset.id]), {"shared": "off"})
    after = {link: fetch(anyone, link)[0] for link in links}
    still = [f"{status} {link[:90]}" for link, status in after.items() if status != 404]
    assert not still, f"{len(still)} of {len(links)} links still answer after sharing stopped: {still}"


def test_a_revoked_embed_says_so_in_a_page_the_host_site_may_frame(alice_client, ready):
    """Not the browser's broken-frame icon (a 404 page that forbids framing): a small page saying
    the video is not available, which the iframe on the other site shows."""
    alice_client.post(reverse("asset_share", args=[ready.id]), {"shared": "on"})
    ready.refresh_from_db()
    old = ready.share_token
    alice_client.post(reverse("asset_share", args=[ready.id]), {"shared": "off"})
    for token in (old, "x" * 24):
        gone = Client().get(reverse("shared_embed", args=[token]))
        assert gone.status_code == 404
        assert "X-Frame-Options" not in gone, gone["X-Frame-Options"]
        assert "frame-ancestors *" in gone["Content-Security-Policy"]
        assert "This video is not available" in gone.content.decode()
    # The shared page itself stays unframeable.
    assert Client().get(reverse("shared", args=[old]))["X-Frame-Options"] == "DENY"


def test_the_owner_lists_the_sites_that_may_embed_it_on_the_items_page(alice_client, ready, client):
    alice_client.post(reverse("asset_share", args=[ready.id]), {"shared": "on"})
    ready.refresh_from_db()
    page = alice_client.get(reverse("asset_detail", args=[ready.id])).content.decode()
    form = re.search(r'<form[^>]+action="([^"#]+)[^"]*"[^>]*>(?:(?!</form>).)*name="embed_origins"', page, re.S)
    assert form, "the share section has a field for the sites"
    sites = "https://blog.example.com\n  http://localhost:8080/ , https://shop.example.org"
    saved = alice_client.post(form.group(1), {"embed_origins": sites})
    assert saved.status_code == 302
    wanted = "frame-ancestors https://blog.example.com http://localhost:8080 https://shop.example.org"
    assert wanted in embed_policy(ready)
    page = alice_client.get(reverse("asset_detail", args=[ready.id])).content.decode()
    assert "https://shop.example.org" in page  # shown again, to change

    refused = alice_client.post(form.group(1), {"embed_origins": "https://ok.example.com javascript:alert(1)"})
    assert refused.status_code == 400 and "javascript:alert(1)" in unescape(refused.content.decode())
    assert wanted in embed_policy(ready)
    alice_client.post(form.group(1), {"embed_origins": ""})  # empty: anywhere again
    assert "frame-ancestors *" in embed_policy(ready)


def embed_policy(asset: Asset) -> str:
    return Client().get(reverse("shared_embed", args=[asset.share_token]))["Content-Security-Policy"]
