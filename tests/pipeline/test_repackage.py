"""remux_legacy: the old ladder's muxed MP4s become the CMAF layout by stream copy alone.

The old files are made by the old ladder's own tee (tests/legacy.py, after 188e298's
video.rendition_slaves). Stream copy is judged by what the files hold: every packet of every
stream, in order, with the same size and keyframe flag as the source's; one fragment per
keyframe for a picture; the sound and the picture in the same relation as in the old file.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from media_tasks.pipeline import fmp4
from media_tasks.pipeline.exceptions import ProcessingError
from media_tasks.pipeline.identity import audio_stream, video_stream
from media_tasks.pipeline.repackage import Layout, nearest_kbps, remux_legacy, tee_spec
from tests.legacy import encode_old_ladder, packets
from tests.media import make_video


@pytest.fixture(scope="module")
def old_ladder(tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("legacy")
    source = make_video(work / "source.mp4", width=320, height=180, duration=4.0, tone=523)
    return encode_old_ladder(source, work / "old")


@pytest.fixture(scope="module")
def remuxed(old_ladder, tmp_path_factory) -> tuple[Path, Layout]:
    out = tmp_path_factory.mktemp("cmaf")
    return out, remux_legacy(old_ladder, out, timeout=120)


def _first_pts(path: Path, stream: str) -> float:
    """The earliest presentation time of `stream`'s packets in the first second, as stored
    (the stream's start_time would apply the MP4's edit list and skip the sound's priming)."""
    args = ["ffprobe", "-v", "error", "-select_streams", stream, "-read_intervals", "%+1"]
    done = subprocess.run(
        [*args, "-show_entries", "packet=pts_time", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return min(float(p["pts_time"]) for p in json.loads(done.stdout)["packets"])


def _top_boxes(path: Path) -> list[str]:
    data, boxes, pos = path.read_bytes(), [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        boxes.append(data[pos + 4 : pos + 8].decode("ascii"))
        pos += size
    return boxes


def test_the_layout_names_every_rung_and_the_sound_by_its_rung_bitrate(remuxed):
    out, layout = remuxed
    assert layout.videos == [video_stream("180p"), video_stream("144p")]
    assert layout.audio == audio_stream(128)  # the largest rung's sound (measured ~112 kb/s on a tone)
    for stream in [*layout.videos, layout.audio]:
        assert (out / stream.single_file).is_file()
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(
        s.single_file for s in [*layout.videos, layout.audio]
    )


def test_every_picture_is_its_mp4s_packets_one_fragment_per_keyframe(remuxed, old_ladder):
    out, layout = remuxed
    for stream in layout.videos:
        source = packets(old_ladder[stream.rung], "v:0")
        copied = packets(out / stream.single_file, "v:0")
        assert copied == source, stream  # same packets, sizes and keyframes: copied, not encoded
        assert packets(out / stream.single_file, "a") == []  # one track per file
        boxes = _top_boxes(out / stream.single_file)
        assert boxes[:2] == ["ftyp", "moov"] and "mdat" in boxes
        assert boxes.count("moof") == sum(1 for _, key in source if key)


def test_the_sound_is_stored_once_from_the_largest_rung(remuxed, old_ladder):
    out, layout = remuxed
    copied = packets(out / layout.audio.single_file, "a:0")
    assert copied == packets(old_ladder["180p"], "a:0")
    assert copied != packets(old_ladder["144p"], "a:0")  # the 96 kb/s sound is dropped
    assert packets(out / layout.audio.single_file, "v") == []
    # Every packet of AAC is a keyframe: fragments of ~2 s, not one per packet.
    assert 2 <= _top_boxes(out / layout.audio.single_file).count("moof") <= 3


def _presented_from(path: Path) -> float:
    """When a CMAF file's first sample plays, as ISO BMFF says (a browser's MSE does the same):
    the first fragment's decode time plus its samples' signed composition offsets, earliest."""
    index = fmp4.index_single_file(path)
    first, at, times = index.fragments[0], index.fragments[0].start, []
    for sample in first.samples:
        times.append(at + sample.cto)
        at += sample.duration
    return min(times) / index.timescale


def test_picture_and_sound_keep_the_old_files_relation(remuxed, old_ladder):
    """No edit list in CMAF: the fragments' own times say when the sound plays against the
    picture. The old MP4 says it with its edit lists, which ffprobe applies."""
    out, layout = remuxed
    old_gap = _first_pts(old_ladder["180p"], "v:0") - _first_pts(old_ladder["180p"], "a:0")
    assert old_gap == pytest.approx(1024 / 48000, abs=0.001)  # the sound's priming, before the picture
    sound = _presented_from(out / layout.audio.single_file)
    assert 0 <= sound < 1 / 30  # nothing before zero, and at most a frame after it
    for stream in layout.videos:
        assert _presented_from(out / stream.single_file) - sound == pytest.approx(old_gap, abs=0.001)


def test_a_silent_ladder_has_no_sound_stream(tmp_path):
    source = make_video(tmp_path / "silent.mp4", width=320, height=180, duration=2.0, audio=False)
    only = tmp_path / "only.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(source), "-c", "copy", "-movflags", "+faststart", str(only)], check=True
    )
    layout = remux_legacy({"180p": only}, tmp_path / "out")
    assert layout == Layout(videos=[video_stream("180p")], audio=None)
    assert packets(tmp_path / "out" / video_stream("180p").single_file, "v:0") == packets(only, "v:0")


def test_a_file_with_no_picture_is_refused(tmp_path):
    sound = tmp_path / "sound.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(sound)], check=True
    )
    with pytest.raises(ProcessingError, match="no picture"):
        remux_legacy({"180p": sound}, tmp_path / "out")


def test_bitrates_are_named_after_the_old_ladders():
    assert nearest_kbps(111_849) == 128
    assert nearest_kbps(95_966) == 96
    assert nearest_kbps(140_000) == 128
    assert nearest_kbps(70_000) == 96


def test_unsafe_names_never_reach_the_tee():
    with pytest.raises(ValueError):
        tee_spec(["/tmp/a|b.mp4"], with_audio=False)
