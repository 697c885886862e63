"""The item's page puts the viewer first (issue 22): the title and the player on top, the
processing details folded under "Details", the SSIM filled in once measured, and a poster
chosen from the frames the encode took."""

import re
from html import unescape as html_text

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from media_tasks.models import Job, Rendition
from media_tasks.processing import quality, workflow
from tests.factories import LADDER, video_with_ladder
from tests.playback import make_ready_video

pytestmark = pytest.mark.django_db
Status = Job.Status


def _details(html: str) -> str:
    match = re.search(r'<details id="details"[^>]*>(.*?)</details>', html, re.S)
    assert match, "no Details section"
    return match.group(1)


def test_the_title_and_player_come_first_and_the_processing_is_folded(
    alice_client, user, fs_storage, monkeypatch, tmp_path
):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    html = alice_client.get(reverse("asset_detail", args=[asset.id])).content.decode()
    title, player, details = (html.index(s) for s in ('id="asset-title"', 'id="player"', '<details id="details"'))
    assert title < player < details
    assert not re.search(r'<details id="details"[^>]*\bopen', html), "Details is folded until opened"
    folded = _details(html)
    for inside in ("Renditions", "History", "libx264", "SSIM", " on t", "Poster"):
        assert inside in folded, inside
    above = html[: html.index('<details id="details"')]
    assert "libx264" not in above and "History" not in above


def test_the_ssim_column_asks_again_until_it_is_measured(alice_client, user, fs_storage, monkeypatch, tmp_path):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    page = reverse("asset_detail", args=[asset.id])
    html = alice_client.get(page).content.decode()
    table = re.search(r'<table[^>]*id="renditions"[^>]*>', html).group(0)
    assert "hx-trigger" in table and "fragment=renditions" in table  # measuring: the table asks again
    fragment = alice_client.get(page, {"fragment": "renditions"})
    assert fragment.status_code == 200 and "measuring…" in fragment.content.decode()
    unchanged = alice_client.get(page, {"fragment": "renditions"}, HTTP_IF_NONE_MATCH=fragment["ETag"])
    assert unchanged.status_code == 304

    assert quality.job_measure_quality(job_id=asset.latest_job.id, worker="t")
    measured = alice_client.get(page, {"fragment": "renditions"}, HTTP_IF_NONE_MATCH=fragment["ETag"])
    assert measured.status_code == 200
    body = measured.content.decode()
    assert re.search(r"0\.9\d{3}", body), body
    assert "hx-trigger" not in body  # measured: nothing more to ask for
    history = re.search(r'<ol id="job-events"[^>]*hx-swap-oob="true"[^>]*>(.*?)</ol>', body, re.S)
    assert history and "Quality measured (SSIM)" in history.group(1), "the history is sent along"


def test_a_failed_measurement_stops_the_asking(alice_client, user, fs_storage, monkeypatch, tmp_path):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    monkeypatch.setattr("media_tasks.pipeline.quality.measure_ssim", _refuse)
    monkeypatch.setattr("media_tasks.pipeline.quality.measure_vmaf", _refuse)
    assert not quality.job_measure_quality(job_id=asset.latest_job.id, worker="t")
    body = alice_client.get(reverse("asset_detail", args=[asset.id]), {"fragment": "renditions"}).content.decode()
    assert "hx-trigger" not in body and "not measured" in body


def test_the_renditions_say_their_vmaf_the_target_and_why_a_rung_was_left_out(
    alice_client, user, fs_storage, monkeypatch
):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    asset = video_with_ladder(owner=user, vmaf={"1080p": 94.31, "480p": None, "360p": 70.0})
    Job.objects.filter(asset=asset).update(finished_at=timezone.now())  # just ready: VMAF of 480p to come
    html = _details(alice_client.get(reverse("asset_detail", args=[asset.id])).content.decode())
    table = re.search(r'<table[^>]*id="renditions".*?</table>', html, re.S).group(0)
    headers = re.findall(r"<th>([^<]*)</th>", table)
    assert headers[headers.index("SSIM") + 1 : headers.index("SSIM") + 3] == ["VMAF", "VMAF aimed at"]
    rows = {m[0]: m[1] for m in re.findall(r"<tr><td>(\d+p)</td>(.*?)</tr>", table, re.S)}
    assert set(rows) == {"1080p", "480p", "360p"}
    assert (_cell(rows, "1080p", "vmaf"), _cell(rows, "1080p", "target-vmaf")) == ("94.3", "94")
    assert "2160 kb/s" in rows["1080p"], "the bitrate beside them"
    assert _cell(rows, "480p", "vmaf") == "measuring…" and "hx-trigger" in table, "asks again until VMAF is there"
    assert _cell(rows, "360p", "target-vmaf") == "no target", "the lead rung: the fixed recipe"
    ladder = _text(re.search(r'<div id="ladder">(.*?)</div>', html, re.S).group(1))
    assert ladder.startswith("How this ladder was chosen Per-title ladder (chosen from 6.0 s of samples): "), ladder
    assert "720p: within 1 VMAF point of 480p (83.1 against 82.6) at more bits (900 against 600 kb/s)" in ladder
    fragment = alice_client.get(reverse("asset_detail", args=[asset.id]), {"fragment": "renditions"})
    assert 'id="ladder"' not in fragment.content.decode(), "not repeated by each refresh of the table"
    status = alice_client.get(reverse("asset_status", args=[asset.id])).json()
    assert status["ladder"] == LADDER
    assert {r["profile"]: (r["vmaf"], r["target_vmaf"]) for r in status["renditions"] if r["kind"] == "mp4"} == {
        "1080p": (94.31, 94.0),
        "480p": (None, 82.0),
        "360p": (70.0, None),
    }


def test_a_fixed_ladder_says_why(alice_client, user, fs_storage, monkeypatch):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    fixed = {"policy": "fixed", "reason": "MEDIA_PER_TITLE=0", "rungs": [{"name": "360p", "target_vmaf": None}]}
    asset = video_with_ladder(owner=user, ladder=fixed, vmaf={"360p": 80.0})
    html = _details(alice_client.get(reverse("asset_detail", args=[asset.id])).content.decode())
    assert "Fixed ladder (MEDIA_PER_TITLE=0):" in _text(html) and "Left out" not in html


def test_a_video_from_before_per_title_ladders_shows_its_vmaf_and_no_targets(
    alice_client, user, fs_storage, monkeypatch
):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    older = video_with_ladder(owner=user, ladder={}, vmaf={"360p": 80.0})
    html = _details(alice_client.get(reverse("asset_detail", args=[older.id])).content.decode())
    assert 'id="ladder"' not in html and "VMAF aimed at" not in html and '<td class="vmaf">80.0</td>' in html


def _text(html: str) -> str:
    """What a reader gets of some HTML: its text, the spaces folded."""
    return " ".join(html_text(re.sub(r"<[^>]+>", "", html)).split())


def _cell(rows: dict[str, str], row: str, name: str) -> str:
    return _text(re.search(rf'<td class="{name}">(.*?)</td>', rows[row], re.S).group(1))


def _refuse(*args, **kwargs):
    raise ValueError("no figures")


def test_the_owner_chooses_the_poster_from_the_encodes_frames(
    alice_client, client, other_user, user, fs_storage, monkeypatch, tmp_path
):
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    frames = list(asset.renditions.filter(kind=Rendition.Kind.FRAME).order_by("profile"))
    assert len(frames) >= 3, [f.profile for f in frames]
    poster = asset.renditions.get(kind=Rendition.Kind.POSTER)
    assert poster.storage_key in {f.storage_key for f in frames}  # the poster is one of them
    other = next(f for f in frames if f.storage_key != poster.storage_key)
    html = alice_client.get(reverse("asset_detail", args=[asset.id])).content.decode()
    assert html.count('name="frame"') == len(frames)

    chosen = alice_client.post(reverse("asset_poster", args=[asset.id]), {"frame": other.profile})
    assert chosen.status_code == 302
    poster.refresh_from_db()
    assert (poster.storage_key, poster.width, poster.height) == (other.storage_key, other.width, other.height)
    refused = alice_client.post(reverse("asset_poster", args=[asset.id]), {"frame": "frame-99"})
    assert refused.status_code == 400 and "not one of this video's frames" in html_text(refused.content.decode())
    client.force_login(other_user)
    assert client.post(reverse("asset_poster", args=[asset.id]), {"frame": frames[0].profile}).status_code == 404


def test_the_player_learns_from_the_page_which_stages_come_after_the_ladder(
    alice_client, user, fs_storage, monkeypatch, tmp_path
):
    """player.js reloads the early master once the ladder is stored; which job states mean that
    is the workflow's to say, passed on the live part of the page, not a copy in the script."""
    asset = make_ready_video(user, tmp_path / "clip.mp4", monkeypatch)
    html = alice_client.get(reverse("asset_detail", args=[asset.id]), {"fragment": "live"}).content.decode()
    live = re.search(r'<div id="asset-live"[^>]*>', html).group(0)
    stages = re.search(r'data-ladder-stored="([^"]*)"', live)
    assert stages, live
    assert stages.group(1).split() == list(workflow.LADDER_STORED) == [Status.THUMBNAILING, Status.FINALIZING]
    script = (settings.BASE_DIR / "static" / "media_tasks" / "player.js").read_text()
    named = [status for status in Job.Status.values if f'"{status}"' in script]
    assert not named, f"player.js names job states itself: {named}"


def test_while_the_ladder_is_made_a_rung_the_analysis_dropped_says_so(alice_client, user, fs_storage, monkeypatch):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    asset = video_with_ladder(owner=user, vmaf={"1080p": None})
    probe = {"kind": "video", "container": "mp4", "width": 1920, "height": 1080, "duration": 10.0}
    type(asset).objects.filter(pk=asset.pk).update(probe=probe)
    Job.objects.filter(asset=asset).update(status=Job.Status.TRANSCODING)
    html = alice_client.get(reverse("asset_detail", args=[asset.id])).content.decode()
    states = dict(re.findall(r"<tr><td>(\d+p)</td><td>[^<]*</td><td class=\"state-[^\"]*\">([^<]*)</td></tr>", html))
    assert states == {"1080p": "ready", "720p": "dropped", "480p": "encoding", "360p": "encoding"}, states


LOUDNESS = {
    "integrated_lufs": -42.2,
    "true_peak_dbtp": -36.7,
    "target_lufs": -16.0,
    "gain_db": 26.2,
    "limited": False,
    "output": {"integrated_lufs": -16.0, "true_peak_dbtp": -10.5},
    "note": "+26.2 dB",
}


@pytest.mark.parametrize(
    ("record", "said"),
    [
        (LOUDNESS, "The source measures -42.2 LUFS (EBU R128 integrated loudness), true peak -36.7 dBTP. Its sound"
         " plays at -16.0 LUFS, true peak -10.5 dBTP, for a target of -16 LUFS (+26.2 dB)."),
        ({**LOUDNESS, "integrated_lufs": -63.0, "output": None, "gain_db": 0.0,
          "note": "near-silence (-63 LUFS): kept at its level, not raised into noise"},
         "Its sound plays as it was: near-silence (-63 LUFS): kept at its level, not raised into noise."),
        ({"target_lufs": -16.0, "note": "not measured: The sound could not be processed"},
         "Not measured: The sound could not be processed."),
    ],
)  # fmt: skip
def test_the_page_and_the_status_say_the_sounds_loudness_and_what_was_done(
    alice_client, user, fs_storage, monkeypatch, record, said
):
    monkeypatch.setattr("media_tasks.tasks.job_enqueue", lambda *, job_id: None)
    asset = video_with_ladder(owner=user, vmaf={"1080p": 94.31, "480p": 82.0, "360p": 70.0})
    Job.objects.filter(asset=asset).update(loudness=record)
    html = _details(alice_client.get(reverse("asset_detail", args=[asset.id])).content.decode())
    text = _text(re.search(r'<div id="loudness">(.*?)</div>', html, re.S).group(1))
    assert text.startswith("Loudness ") and said in text, text
    assert alice_client.get(reverse("asset_status", args=[asset.id])).json()["loudness"] == record
