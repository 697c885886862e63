"""A sound alone through the pipeline, no Django: its one stream encoded as the ladder's sound is,
the HLS master and the DASH manifest naming it alone, its M4A download put together from the
stream's own bytes, and its waveform and cover art."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from media_tasks.pipeline import loudness, video, waveform
from media_tasks.pipeline.probe import probe
from media_tasks.pipeline.progressive import DownloadPlan
from media_tasks.pipeline.streams import Ladder, index_ladder, write_manifests
from tests.media import ffprobe, make_sound
from tests.pipeline.test_video import LIMITS

KEEP = loudness.Plan(0.0, False, True, "kept")


def _encoded(src: Path, out: Path) -> Ladder:
    info = probe(src, LIMITS)
    stream = video.ladder_sound(info)
    loudness.encode_sound(src, info, stream, out, KEEP)
    return index_ladder(out, [], stream)


def _assembled(root: Path, plan_path: Path, out: Path) -> Path:
    """The download as the server streams it: the plan's head, then each piece's bytes."""
    plan = DownloadPlan.from_json(json.loads(plan_path.read_text()))
    with out.open("wb") as fh:
        fh.write(plan.head)
        for piece in plan.pieces:
            with (root / piece.stream_dir / piece.file).open("rb") as part:
                part.seek(piece.offset)
                fh.write(part.read(piece.length))
    return out


@pytest.mark.parametrize("fmt", ["wav", "mp3", "opus"])
def test_a_sound_alone_plays_from_a_master_and_an_mpd_that_name_it_alone_and_downloads_as_m4a(tmp_path, fmt):
    ladder = _encoded(make_sound(tmp_path / f"in.{fmt}", duration=7.0), tmp_path / "area")
    manifests = write_manifests(ladder)
    master = manifests.master.read_text()
    assert master.count("#EXT-X-STREAM-INF:") == 1 and 'CODECS="mp4a.40.2"' in master
    assert "audio/128k-aac/index.m3u8" in master and "RESOLUTION" not in master and "TYPE=AUDIO" not in master
    mpd = manifests.mpd.read_text()
    assert 'contentType="audio"' in mpd and 'contentType="video"' not in mpd
    for manifest in (manifests.master, manifests.mpd):
        played = ffprobe(manifest)
        assert [s["codec_type"] for s in played["streams"]] == ["audio"]
        assert float(played["format"]["duration"]) == pytest.approx(7.0, abs=0.1)
    (plan,) = manifests.plans
    m4a = ffprobe(_assembled(tmp_path / "area", plan, tmp_path / "out.m4a"))
    assert "m4a" in m4a["format"]["format_name"] and m4a["format"]["tags"]["major_brand"] == "M4A "
    assert [s["codec_name"] for s in m4a["streams"]] == ["aac"]
    assert float(m4a["format"]["duration"]) == pytest.approx(7.0, abs=0.1)
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(tmp_path / "out.m4a"), "-f", "null", "-"], check=False)
    assert decoded.returncode == 0


def test_the_waveform_follows_the_sound_loud_then_silent_and_a_quiet_one_still_shows_its_shape(tmp_path):
    loud_then_silent = "sine=frequency=200:duration=4,volume=-30dB,apad=whole_dur=8"
    info = probe(make_sound(tmp_path / "q.flac", sound=loud_then_silent), LIMITS)
    image = waveform.make_waveform(tmp_path / "q.flac", info, tmp_path, timeout=60)
    assert (image.width, image.height) == waveform.WAVEFORM_SIZE and image.path.suffix == ".png"
    with Image.open(image.path) as im:
        first, second = (_drawn_height(im, x) for x in (image.width // 4, 3 * image.width // 4))
    assert first > 0.8 * image.height  # -30 dB, scaled to its own peak: as tall as a loud one
    assert second <= 2  # silence: a line, not noise drawn large


def _drawn_height(im: Image.Image, x: int) -> int:
    background = im.getpixel((0, 0)) if im.getpixel((0, 0)) == (17, 24, 39) else (17, 24, 39)
    return sum(1 for y in range(im.height) if im.getpixel((x, y)) != background)


def test_the_cover_art_is_taken_from_the_tags_and_written_again_as_a_jpeg(tmp_path):
    src = make_sound(tmp_path / "song.mp3", cover=True)
    cover = waveform.extract_cover(src, probe(src, LIMITS), tmp_path)
    assert cover is not None and (cover.width, cover.height) == (600, 600)
    with Image.open(cover.path) as im:
        assert im.format == "JPEG" and not im.getexif()
    bare = make_sound(tmp_path / "bare.mp3")
    assert waveform.extract_cover(bare, probe(bare, LIMITS), tmp_path) is None
