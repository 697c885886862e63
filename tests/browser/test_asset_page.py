"""The item's page in Chromium (issue 22): the viewer first on a phone, the SSIM filling in
after "Ready" without a reload, each new stage said to a screen reader, and the poster
chosen by keyboard."""

from __future__ import annotations

import pytest
from django.urls import reverse

from media_tasks import services
from media_tasks.models import Rendition
from media_tasks.processing import quality
from tests.browser.test_accessibility import PHONE
from tests.playback import make_ready_video
from tests.views.test_assets import upload_file

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_on_a_phone_the_player_is_in_the_first_screen_and_the_details_are_folded(
    fs_storage, signed_in, user, monkeypatch, tmp_path
):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    page = signed_in(user)
    page.set_viewport_size(PHONE)
    page.goto(reverse("asset_detail", args=[asset.id]))
    box = page.locator("#player").bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"], box
    assert not page.locator("#renditions").is_visible() and not page.locator("#job-events").is_visible()
    page.click("#details > summary")
    assert page.locator("#renditions").is_visible()


def test_the_ssim_appears_when_measured_without_a_reload(fs_storage, signed_in, user, monkeypatch, tmp_path):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    page = signed_in(user)
    page.goto(reverse("asset_detail", args=[asset.id]))
    page.evaluate("() => { window.__sameLoad = true; }")
    page.click("#details > summary")
    assert page.locator("#renditions td.ssim").first.inner_text() == "measuring…"
    assert quality.job_measure_quality(job_id=asset.latest_job.id, worker="t")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#renditions td.ssim')]"
        ".every((td) => /^0\\.9\\d{3}$/.test(td.textContent.trim()))",
        timeout=15_000,
    )
    assert page.evaluate("() => window.__sameLoad === true"), "the page was reloaded"
    assert "Quality measured (SSIM)" in page.inner_text("#job-events"), "the history shows it too"
    assert page.locator("#details").get_attribute("open") is not None, "Details stays open"
    ssims = sorted(asset.renditions.filter(kind=Rendition.Kind.MP4).values_list("ssim", flat=True))
    assert all(s is not None for s in ssims)


def test_each_new_stage_is_said_to_a_screen_reader(fs_storage, signed_in, user, monkeypatch):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    job = services.asset_create(owner=user, fileobj=upload_file(), filename="a.mp4", size_bytes=4108).job
    page = signed_in(user)
    page.goto(reverse("asset_detail", args=[job.asset_id]))
    page.wait_for_function("() => !!window.htmx")
    assert page.get_attribute("#status-announcer", "aria-live") == "polite"
    assert page.inner_text("#status-announcer") == "", "what the page says on arrival is read with it"
    services.job_cancel(job_id=job.id, reason="Cancelled by its owner.")
    page.wait_for_function(
        "() => document.querySelector('#status-announcer').textContent.startsWith('Cancelled')", timeout=10_000
    )
    assert page.inner_text("#status-announcer") == "Cancelled: Cancelled by its owner."


def test_the_poster_is_chosen_by_keyboard(fs_storage, signed_in, user, monkeypatch, tmp_path):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    page = signed_in(user)
    page.goto(reverse("asset_detail", args=[asset.id]))
    page.click("#details > summary")
    page.focus("input[name=frame]:checked")
    page.keyboard.press("ArrowRight")  # a radio group: the arrows move the choice
    chosen = page.evaluate("() => document.activeElement.value")
    page.keyboard.press("Enter")  # submits the form
    page.wait_for_selector("text=The poster is changed.")
    poster = asset.renditions.get(kind=Rendition.Kind.POSTER)
    assert poster.storage_key == asset.renditions.get(kind=Rendition.Kind.FRAME, profile=chosen).storage_key
    assert page.get_attribute("#player", "poster").endswith(poster.storage_key.rsplit("/", 1)[1])


def test_one_seek_bar_with_previews_for_keyboard_touch_and_mouse(fs_storage, signed_in, user, monkeypatch, tmp_path):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, duration=12)
    url = reverse("asset_detail", args=[asset.id])
    page = signed_in(user)
    page.goto(url)
    page.wait_for_selector("#player-box[data-controls='own']")
    assert page.evaluate("() => document.querySelector('#player').controls") is False, "the browser's bar is gone"
    seek_bars = page.locator("#player-box input[type=range]:not(#volume)")
    assert seek_bars.count() == 1 and page.locator("#seek").is_visible()
    # Keyboard: two steps to the right, and the preview of the new time shows.
    page.focus("#seek")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert abs(page.evaluate("() => document.querySelector('#player').currentTime") - 10) < 0.5
    assert page.locator("#scrub-preview").is_visible() and page.inner_text("#scrub-time") == "0:10"
    assert page.get_attribute("#seek", "aria-valuetext") == "0:10 of 0:12"
    # Mouse: hovering a quarter of the way along previews 0:03.
    box = page.locator("#seek").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
    page.wait_for_function("() => document.querySelector('#scrub-time').textContent === '0:03'", timeout=5_000)

    phone = signed_in(user, viewport=PHONE, has_touch=True, is_mobile=True)
    phone.goto(url)
    phone.wait_for_selector("#player-box[data-controls='own']")
    box = phone.locator("#seek").bounding_box()
    phone.touchscreen.tap(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    phone.wait_for_function("() => Math.abs(document.querySelector('#player').currentTime - 6) < 1.5", timeout=5_000)
    assert phone.locator("#scrub-preview").is_visible()
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"]


def test_the_shared_page_has_the_same_seek_bar_for_anyone(
    fs_storage, browser, live_server, user, monkeypatch, tmp_path
):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, duration=12)
    asset = services.asset_share(asset_id=asset.id, shared=True)
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()  # no account, no cookie
    page.goto(reverse("shared", args=[asset.share_token]))
    page.wait_for_selector("#player-box[data-controls='own']")
    page.focus("#seek")
    page.keyboard.press("ArrowRight")
    assert page.locator("#scrub-preview").is_visible() and page.inner_text("#scrub-time") == "0:05"
    embed = context.new_page()
    embed.goto(reverse("shared_embed", args=[asset.share_token]))
    embed.wait_for_selector("#player-box[data-engine]")
    assert embed.locator("#seek").count() == 0, "the embed keeps the browser's controls"
    context.close()
