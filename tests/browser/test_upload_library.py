"""The pages as a library people use (issue 22), in Chromium: the upload page by keyboard and by
drag, a reload that brings back only what did not finish, and every page at a phone's width."""

from __future__ import annotations

import pytest
from django.urls import reverse

from media_tasks import services
from tests.browser.conftest import screenshot
from tests.playback import make_ready_video
from tests.views.test_library import bulk_assets

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def test_choose_files_by_keyboard_and_see_a_drag_over(fs_storage, signed_in, user):
    page = signed_in(user)
    page.goto(reverse("asset_upload"))
    page.wait_for_function("() => !!window.mediaUploader")  # the page's script is running
    page.evaluate(
        """() => { window.__picked = 0;
          document.getElementById("file-input").addEventListener("click", () => { window.__picked += 1; }); }"""
    )
    for _ in range(15):  # from the top of the page, as a keyboard user does
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "choose-files":
            break
    assert page.evaluate("() => document.activeElement.id") == "choose-files", "Tab never reaches “choose files”"
    page.keyboard.press("Enter")  # opens the file picker: the hidden input is clicked
    page.wait_for_function("() => window.__picked === 1", timeout=5_000)
    page.evaluate(
        """() => {
          const dt = new DataTransfer();
          dt.items.add(new File(["x"], "a.png", {type: "image/png"}));
          const over = new DragEvent("dragover", {dataTransfer: dt, bubbles: true});
          document.querySelector("#dropzone").dispatchEvent(over);
        }"""
    )
    page.wait_for_selector("#dropzone.uppy-is-drag-over", timeout=5_000)


def test_a_reload_brings_back_only_uploads_that_did_not_finish(fs_storage, signed_in, user, tmp_path):
    photo = tmp_path / "small.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048)
    page = signed_in(user)
    page.goto(reverse("asset_upload"))
    page.set_input_files("#file-input", str(photo))
    page.wait_for_selector("#upload-list a.status-link", timeout=60_000)
    page.reload()
    page.wait_for_timeout(1500)  # GoldenRetriever restores from IndexedDB after the load
    assert page.locator("#restore-note").is_hidden(), page.inner_text("#restore-note")
    assert page.locator("#upload-list tbody tr").count() == 0
    page.goto(reverse("asset_upload"))  # a later visit says nothing either
    page.wait_for_timeout(1000)
    assert page.locator("#restore-note").is_hidden()


def test_no_page_is_wider_than_a_phone(fs_storage, signed_in, user, monkeypatch, tmp_path):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    services.asset_update(asset_id=asset.id, title="A walk along the harbour at dusk, with the long title it deserves")
    bulk_assets(user, [f"a-rather-long-file-name-from-a-camera-{n:04d}.mp4" for n in range(5)])
    page = signed_in(user)
    page.set_viewport_size(PHONE)
    for url in (
        reverse("asset_upload"),
        reverse("asset_list"),
        reverse("asset_detail", args=[asset.id]),
        reverse("token_list"),
    ):
        page.goto(url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{url} is {width} px wide at {PHONE['width']} px"
        if url == reverse("asset_list"):
            screenshot(page, "library")
        header_bottom = page.evaluate("document.querySelector('header').getBoundingClientRect().bottom")
        main_top = page.evaluate("document.querySelector('main').getBoundingClientRect().top")
        assert header_bottom <= main_top, f"{url}: the nav runs into the content"
