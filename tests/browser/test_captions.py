"""Caption tracks in Chromium (issue 31): the CC control shows a track's cue at its time on the
item's page, the shared page and the embed, each playing HLS through hls.js from the signed link."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from media_tasks import services
from tests.playback import make_ready_video

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CUES = b"1\n00:00:01,000 --> 00:00:02,500\nHello from the harbour\n\n2\n00:00:03,000 --> 00:00:03,800\nLater\n"


@pytest.fixture
def captioned(fs_storage, user, monkeypatch, tmp_path):
    video = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch, duration=4)
    services.caption_track_add(
        asset_id=video.id, language="en-GB", label="English", fileobj=io.BytesIO(CUES), size_bytes=len(CUES)
    )
    services.caption_track_add(
        asset_id=video.id,
        language="fr",
        label="Français",
        fileobj=io.BytesIO(CUES.replace(b"Hello", b"Bonjour")),
        size_bytes=len(CUES) + 2,
    )
    return services.asset_share(asset_id=video.id, shared=True)


def _cue_at(page, seconds: float) -> str:
    """Pick English with the keyboard in the CC control, go to `seconds`: the cue the video shows.
    The embed has the browser's own controls (no room for ours): their CC menu sets the track's
    mode, as done here."""
    page.wait_for_function("() => document.querySelector('#player-box').dataset.engine")
    control = page.locator("#cc")
    if control.is_visible():
        control.focus()
        assert page.evaluate("() => document.activeElement.id") == "cc", "the CC control takes the focus"
        page.keyboard.press("ArrowDown")  # Off -> English, without a mouse
        assert control.input_value() == "en-GB"
    else:
        assert page.evaluate("() => document.querySelector('video').controls")
        page.evaluate(
            "() => { for (const t of document.querySelector('video').textTracks) "
            "t.mode = t.language === 'en-GB' ? 'showing' : 'disabled'; }"
        )
    page.evaluate(f"() => {{ const v = document.querySelector('video'); v.pause(); v.currentTime = {seconds}; }}")
    showing = "[...document.querySelector('video').textTracks].filter((t) => t.mode === 'showing')"
    page.wait_for_function(f"() => {showing}.some((t) => t.activeCues && t.activeCues.length)", timeout=15_000)
    return page.evaluate(f"() => {showing}.map((t) => `${{t.language}}: ${{[...t.activeCues].map((c) => c.text)}}`)[0]")


def test_the_cc_control_shows_the_cue_at_its_time_on_the_page_the_shared_page_and_the_embed(
    signed_in, browser, live_server, user, captioned
):
    page = signed_in(user)
    page.goto(reverse("asset_detail", args=[captioned.id]))
    assert page.locator("#cc option").all_inner_texts() == ["Off", "English", "Français"]
    assert _cue_at(page, 1.5) == "en-GB: Hello from the harbour"
    assert page.evaluate("() => document.querySelector('#player-box').dataset.engine") == "hls.js"

    context = browser.new_context(base_url=live_server.url)  # no session: what a visitor sees
    visitor = context.new_page()
    for path in (
        reverse("shared", args=[captioned.share_token]),
        reverse("shared_embed", args=[captioned.share_token]),
    ):
        visitor.goto(path)
        assert _cue_at(visitor, 3.2) == "en-GB: Later", path
    context.close()


def test_the_owner_adds_and_deletes_a_track_on_the_page(signed_in, user, captioned, tmp_path):
    page = signed_in(user)
    page.goto(reverse("asset_detail", args=[captioned.id]))
    page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    broken = tmp_path / "broken.srt"
    broken.write_bytes(CUES.replace(b"00:00:03,000 --> ", b"00:00:03,000 -> "))
    page.fill("#id_language", "de")
    page.set_input_files("#id_file", str(broken))
    page.click("#caption-form button[type=submit]")
    assert "Line 6: expected a cue's timing" in page.text_content("#caption-form")
    good = tmp_path / "de.srt"
    good.write_bytes(CUES.replace(b"Hello", b"Hallo"))
    page.fill("#id_language", "de")
    page.fill("#id_label", "Deutsch")
    page.set_input_files("#id_file", str(good))
    page.click("#caption-form button[type=submit]")
    page.wait_for_url("**#captions")
    assert page.locator("#cc option").all_inner_texts() == ["Off", "Deutsch", "English", "Français"]
    page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    page.click("button[aria-label='Delete the captions in Deutsch']")
    page.wait_for_url("**#captions")
    assert page.locator("#cc option").all_inner_texts() == ["Off", "English", "Français"]
