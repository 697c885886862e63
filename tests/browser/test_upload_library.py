"""The upload page as people use it (issue 22), in Chromium: by keyboard and by drag, and a
reload that brings back only what did not finish."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from media_tasks import storage
from media_tasks.models import Asset

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


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


@pytest.mark.parametrize("recovery", ["back-online", "retry-button"])
def test_a_connection_lost_at_the_end_recovers(fs_storage, signed_in, user, tmp_path, monkeypatch, recovery):
    """Every part is sent, then the completion meets a dead connection: the row says so in plain
    words with Retry, and the upload ends with its link once back online (by itself) or on Retry."""
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)  # no worker here
    clip = tmp_path / "holiday.mov"
    clip.write_bytes(os.urandom(700_000))
    page = signed_in(user)
    lost = []

    def cut_at_completion(route):
        if not lost:  # the first completion only: the connection drops as it is sent
            lost.append(route.request.url)
            if recovery == "back-online":
                page.context.set_offline(True)
            return route.abort("internetdisconnected")
        return route.continue_()

    page.route("**/complete", cut_at_completion)
    page.goto(reverse("asset_upload"))
    page.set_input_files("#file-input", str(clip))
    state = page.locator("#upload-list tbody tr .state")
    page.wait_for_selector("#upload-list tbody tr .retry", timeout=60_000)
    assert "The connection was lost" in state.inner_text() and "Failed to fetch" not in state.inner_text()
    assert Asset.objects.count() == 0
    if recovery == "back-online":
        page.context.set_offline(False)
    else:
        page.click("#upload-list tbody tr .retry")
    page.wait_for_selector("#upload-list a.status-link", timeout=60_000)
    (asset,) = Asset.objects.all()
    assert page.get_attribute("#upload-list a.status-link", "href").endswith(reverse("asset_detail", args=[asset.id]))
    assert storage.read_bytes(asset.original_key) == clip.read_bytes()
