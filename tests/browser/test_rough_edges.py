"""The viewer's and uploader's rough edges (issue 28, section 4), in Chromium: the library's grid,
tap targets on a phone, a phone held sideways, where focus goes after each action, the upload
row's states, words for touch, and the small frictions of the library and the item's page."""

from __future__ import annotations

import os
import re

import pytest
from django.urls import reverse
from PIL import Image

from media_tasks import services
from media_tasks.models import Asset
from media_tasks.processing import finalize, images, probe
from tests.browser.test_accessibility import PHONE
from tests.conftest import wait_until
from tests.playback import make_ready_video
from tests.views.test_library import bulk_assets

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1200, "height": 900}
LANDSCAPE_PHONE = {"width": 844, "height": 390}


@pytest.fixture(autouse=True)
def no_worker(monkeypatch):
    """These pages are made here, stage by stage: a worker left running by an earlier test must
    not take the same jobs (its run would empty the work directory under this one)."""


def ready_image(user, path, size: tuple[int, int]) -> Asset:
    Image.new("RGB", size, (200, 120, 40)).save(path)
    with path.open("rb") as fh:
        job = services.asset_create(owner=user, fileobj=fh, filename=path.name, size_bytes=path.stat().st_size).job
    assert probe.job_probe(job_id=job.id, worker="t") == "image"
    assert images.job_make_image_variants(job_id=job.id, worker="t")
    assert finalize.job_finalize(job_id=job.id, worker="t")
    return Asset.objects.get(pk=job.asset_id)


def test_a_portrait_photo_keeps_the_library_grid_even(fs_storage, signed_in, user, tmp_path):
    ready_image(user, tmp_path / "wide.png", (1200, 800))
    ready_image(user, tmp_path / "tall.png", (600, 1400))
    ready_image(user, tmp_path / "square.png", (900, 900))
    page = signed_in(user, viewport=DESKTOP)
    page.goto(reverse("asset_list"))
    page.wait_for_function("() => [...document.querySelectorAll('.library img')].every((i) => i.complete)")
    previews = page.evaluate(
        "() => [...document.querySelectorAll('.library .preview')].map((p) => p.getBoundingClientRect().height)"
    )
    cards = page.evaluate(
        "() => [...document.querySelectorAll('.library .item')].map((c) => c.getBoundingClientRect().height)"
    )
    assert len(set(round(h) for h in previews)) == 1, f"previews of one height, not {previews}"
    assert max(cards) - min(cards) < 2, f"cards of one height, not {cards}"


def test_a_portrait_photo_fits_a_desktop_screen(fs_storage, signed_in, user, tmp_path):
    tall = ready_image(user, tmp_path / "tall.png", (900, 1800))
    page = signed_in(user, viewport=DESKTOP)
    page.goto(reverse("asset_detail", args=[tall.id]))
    page.wait_for_function("() => document.querySelector('#image').complete")
    box = page.locator("#image").bounding_box()
    assert box["height"] <= DESKTOP["height"], (
        f"the photo is {box['height']} px tall on a {DESKTOP['height']} px screen"
    )


# What a thumb has to hit on a phone (WCAG 2.2, 2.5.8: at least 24×24 CSS px).
TARGETS = {
    "library": ["#asset-rows input[type=checkbox]", ".bar nav a", ".bar .link"],
    "video": ["details > summary", "#quality", ".bar nav a"],
    "delete": ["form a"],
}


def test_tap_targets_on_a_phone_are_at_least_24_px(
    fs_storage, signed_in, user, monkeypatch, tmp_path, browser, live_server
):
    video = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    (other,) = bulk_assets(user, ["notes.mp4"])
    urls = {
        "library": reverse("asset_list"),
        "video": reverse("asset_detail", args=[video.id]),
        "delete": reverse("asset_delete") + f"?ids={other.id}",
    }
    page = signed_in(user, viewport=PHONE, is_mobile=True, has_touch=True)
    small = []
    for name, selectors in TARGETS.items():
        page.goto(urls[name])
        page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        for selector in selectors:
            boxes = page.evaluate(
                "(s) => [...document.querySelectorAll(s)].map((e) => { const r = e.getBoundingClientRect();"
                " return [e.textContent.trim().slice(0, 20) || e.outerHTML.slice(0, 40), r.width, r.height]; })",
                selector,
            )
            assert boxes, f"{name}: nothing matches {selector}"
            small += [(name, selector, *box) for box in boxes if box[1] < 24 or box[2] < 24]
    login = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    login.goto(reverse("login"))
    for field in ("#id_username", "#id_password"):
        box = login.locator(field).bounding_box()
        if box["height"] < 24:
            small.append(("login", field, "", box["width"], box["height"]))
    assert not small, "\n".join(f"{n} {s} {t!r}: {w:.0f}×{h:.0f}" for n, s, t, w, h in small)


def test_a_phone_held_sideways_shows_the_whole_player(fs_storage, signed_in, user, monkeypatch, tmp_path):
    video = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, duration=3)
    page = signed_in(user, viewport=LANDSCAPE_PHONE, is_mobile=True, has_touch=True)
    page.goto(reverse("asset_detail", args=[video.id]))
    page.wait_for_selector("#player-box[data-controls='own']")
    page.locator("#player-box").scroll_into_view_if_needed()
    page.evaluate("() => document.querySelector('#player-box').scrollIntoView({block: 'start'})")
    box = page.locator("#player-box").bounding_box()
    assert box["height"] <= LANDSCAPE_PHONE["height"], f"the player is {box['height']} px tall, the screen 390"
    seek = page.locator("#seek").bounding_box()
    assert seek["y"] + seek["height"] <= LANDSCAPE_PHONE["height"], seek


def focused_within(page, selector: str) -> bool:
    return page.evaluate("(s) => !!document.activeElement.closest(s)", selector)


def said(page, text: str) -> None:
    """`text` is in the page's live region of messages (filled again once loaded, to be read out)."""
    assert page.get_attribute("#messages", "role") == "status"
    page.wait_for_function("(t) => document.querySelector('#messages').textContent.includes(t)", arg=text)


def test_after_each_action_the_user_stays_where_they_acted_and_hears_it(
    fs_storage, signed_in, user, monkeypatch, tmp_path
):
    video = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    page = signed_in(user, viewport=DESKTOP)
    page.goto(reverse("asset_detail", args=[video.id]))
    # A skip link first, to the page's own content.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Skip to main content"
    page.keyboard.press("Enter")
    assert focused_within(page, "main"), "the skip link moves focus into the content"

    page.click("#edit > summary")
    page.fill("#id_title", "Harbour at dusk")
    page.click("#edit button[type=submit]")
    page.wait_for_selector("text=Harbour at dusk")
    page.wait_for_load_state("load")
    assert page.locator("#edit").get_attribute("open") is not None, "Edit stays open after Save"
    assert focused_within(page, "#edit"), page.evaluate("() => document.activeElement.outerHTML.slice(0, 80)")
    said(page, "Saved.")

    page.click("#sharing > summary") if page.locator("#sharing").get_attribute("open") is None else None
    page.click("text=Create a share link")
    page.wait_for_selector("#share-link")
    page.wait_for_load_state("load")
    assert focused_within(page, "#sharing")
    said(page, "Anyone with the link can watch it now.")
    for _ in range(3):  # "Copy link" is a Tab or two away, not 17
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.textContent.trim()") == "Copy link":
            break
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Copy link", "3 Tabs at most"
    page.keyboard.press("Enter")
    # The clipboard answers asynchronously: the line beside the pressed button fills in then.
    page.wait_for_function(
        "() => [...document.querySelectorAll('#sharing [data-copy]')].some("
        "(b) => b.parentElement.querySelector('[role=status]')?.textContent)"
    )
    copy_states = page.evaluate(
        "() => [...document.querySelectorAll('#sharing [data-copy]')]"
        ".map((b) => [b.textContent.trim(), b.parentElement.querySelector('[role=status]')?.textContent || ''])"
    )
    beside = dict(copy_states)
    assert beside["Copy link"] and not beside["Copy embed code"], beside

    page.click("text=Stop sharing")
    page.wait_for_selector("text=Create a share link")
    page.wait_for_load_state("load")
    assert focused_within(page, "#sharing") and page.locator("#sharing").get_attribute("open") is not None
    said(page, "Sharing is off")

    page.click("#details > summary")
    page.check("input[name=frame]:not(:checked) >> nth=0")
    page.click("text=Use as poster")
    page.wait_for_selector("text=The poster is changed.")
    page.wait_for_load_state("load")
    assert page.locator("#details").get_attribute("open") is not None, "Details stays open"
    assert focused_within(page, "#poster")


def upload_page_throttled(page, *, upload_bytes_per_s: int):
    """The upload page on a slow uplink (Chromium's own throttling), so a row stays mid-upload."""
    page.goto(reverse("asset_upload"))
    page.context.new_cdp_session(page).send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": upload_bytes_per_s},
    )
    return page


def test_a_cancelled_upload_row_says_only_cancelled_and_keeps_focus(fs_storage, signed_in, user, tmp_path, monkeypatch):
    big = tmp_path / "long-take.mov"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    page = upload_page_throttled(signed_in(user, viewport=DESKTOP), upload_bytes_per_s=512 * 1024)
    page.set_input_files("#file-input", str(big))
    page.wait_for_function("() => document.querySelector('#upload-list tbody tr .speed').textContent !== ''")
    page.on("dialog", lambda dialog: dialog.accept())
    page.focus("#upload-list tbody tr .cancel")
    page.keyboard.press("Enter")
    page.wait_for_selector("#upload-list tbody tr .state:text('Cancelled.')")
    row = page.locator("#upload-list tbody tr")
    assert row.locator(".speed").inner_text() == "" and row.locator(".eta").inner_text() == ""
    assert page.evaluate("() => document.activeElement !== document.body"), "focus stays in the list"


def test_title_and_description_are_set_on_the_row_while_uploading(fs_storage, signed_in, user, tmp_path, monkeypatch):
    clip = tmp_path / "holiday.mov"
    clip.write_bytes(os.urandom(3 * 1024 * 1024))
    page = upload_page_throttled(signed_in(user, viewport=DESKTOP), upload_bytes_per_s=1024 * 1024)
    page.set_input_files("#file-input", str(clip))
    row = page.locator("#upload-list tbody tr")
    row.get_by_label("Title").fill("Our holiday")
    row.get_by_label("Description").fill("Two weeks by the sea.")
    page.wait_for_selector("#upload-list a.status-link", timeout=60_000)
    (asset,) = Asset.objects.all()
    page.wait_for_function(
        "() => /Saved/.test(document.querySelector('#upload-list tbody tr .details-state').textContent)"
    )
    asset.refresh_from_db()
    assert (asset.title, asset.description) == ("Our holiday", "Two weeks by the sea.")
    row.get_by_label("Title").fill("Our summer holiday")  # after the upload: saved as well
    row.get_by_label("Title").blur()
    # The row said "Saved." already: the proof is the stored title.
    wait_until(lambda: Asset.objects.get(pk=asset.pk).title == "Our summer holiday", 15, "the new title saved")


def test_the_upload_page_speaks_plainly_and_of_drops_only_with_a_mouse(fs_storage, signed_in, user):
    desktop = signed_in(user, viewport=DESKTOP)
    desktop.goto(reverse("asset_upload"))
    hint = desktop.inner_text("#uploader .hint")
    assert not re.search(r"HLS|ladder|WebP|MP4|JPEG", hint), hint
    assert desktop.get_by_text("Drop files here").is_visible()
    phone = signed_in(user, viewport=PHONE, is_mobile=True, has_touch=True)
    phone.goto(reverse("asset_upload"))
    assert not phone.get_by_text("Drop files here").is_visible()
    assert phone.locator("#choose-files").is_visible()


def test_sort_applies_at_once_and_delete_waits_for_a_tick(fs_storage, signed_in, user):
    bulk_assets(user, ["b.mp4", "a.mp4"])
    page = signed_in(user, viewport=DESKTOP)
    page.goto(reverse("asset_list"))
    assert page.locator("#delete-selected").is_disabled(), "nothing is ticked yet"
    page.check("#asset-rows input[type=checkbox] >> nth=0")
    assert page.locator("#delete-selected").is_enabled()
    page.uncheck("#asset-rows input[type=checkbox] >> nth=0")
    assert page.locator("#delete-selected").is_disabled()
    with page.expect_navigation():
        page.select_option("select[name=sort]", "title")
    assert "sort=title" in page.url
    assert page.locator(".item-title").all_inner_texts() == ["a.mp4", "b.mp4"]
