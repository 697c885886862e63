"""A rung's MP4 download put together from its CMAF streams (pipeline.progressive): the plan's
head followed by its pieces is a normal faststart MP4 with the picture and the sound, which
ffmpeg reads without an error, frame for frame."""

from __future__ import annotations

import itertools
import json
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from media_tasks.pipeline.progressive import DownloadPlan, download_plan, write_download_plan
from tests.cmaf_media import AUDIO_DIR, RATE, VIDEO_DIR, Tracks, make_tracks, plan_of

DURATION = 6.0


@pytest.fixture(scope="module")
def tracks(tmp_path_factory) -> Tracks:
    return make_tracks(tmp_path_factory.mktemp("streams"), duration=DURATION)


def assemble(plan: DownloadPlan, root: Path, out: Path) -> Path:
    """What the download view sends, written to a file."""
    with out.open("wb") as fh:
        fh.write(plan.head)
        for directory, name, offset, length in plan.pieces:
            with (root / directory / name).open("rb") as src:
                src.seek(offset)
                fh.write(src.read(length))
    return out


def probe(path: Path, *args: str) -> dict:
    command = ["ffprobe", "-v", "error", "-of", "json", "-show_format", "-show_streams", *args, str(path)]
    return json.loads(subprocess.run(command, check=True, capture_output=True).stdout)


def top_level_boxes(path: Path) -> list[str]:
    data, kinds, position = path.read_bytes(), [], 0
    while position < len(data):
        size, kind = struct.unpack_from(">I4s", data, position)
        size = struct.unpack_from(">Q", data, position + 8)[0] if size == 1 else size
        kinds.append(kind.decode())
        position += size
    return kinds


def decode_errors(path: Path) -> str:
    return subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True
    ).stderr


def video_frames(path: Path) -> int:
    info = probe(path, "-count_frames", "-select_streams", "v")
    return int(info["streams"][0]["nb_read_frames"])


def test_the_download_is_a_faststart_mp4_with_picture_and_sound(tracks, tmp_path):
    plan = DownloadPlan.from_json(json.loads(json.dumps(plan_of(tracks).to_json())))
    out = assemble(plan, tracks.root, tmp_path / "download.mp4")

    assert top_level_boxes(out) == ["ftyp", "moov", "mdat"]
    info = probe(out)
    assert [s["codec_name"] for s in info["streams"]] == ["h264", "aac"]
    for stream in info["streams"]:
        assert float(stream["duration"]) == pytest.approx(DURATION, abs=0.1), stream["codec_name"]
    assert float(info["format"]["duration"]) == pytest.approx(DURATION, abs=0.1)
    assert decode_errors(out) == ""
    assert video_frames(out) == int(DURATION * RATE) == video_frames(tracks.root / VIDEO_DIR / tracks.video.init_file)


def test_the_sizes_add_up_and_the_streams_alternate(tracks, tmp_path):
    plan = plan_of(tracks)
    out = assemble(plan, tracks.root, tmp_path / "download.mp4")
    samples = {
        VIDEO_DIR: sum(s.size for f in tracks.video.fragments for s in f.samples),
        AUDIO_DIR: sum(s.size for f in tracks.audio.fragments for s in f.samples),
    }
    assert out.stat().st_size == plan.size == len(plan.head) + sum(samples.values())
    for directory, total in samples.items():
        assert sum(p.length for p in plan.pieces if p.stream_dir == directory) == total
    # one chunk per fragment, picture and sound by time: a player reading from the start has both
    order = [p.stream_dir for p in plan.pieces]
    assert order[0] == VIDEO_DIR and sum(a != b for a, b in itertools.pairwise(order)) >= 4
    keyframes = probe(out, "-show_packets", "-select_streams", "v")["packets"]
    assert [n for n, p in enumerate(keyframes) if "K" in p["flags"]] == [0, 60, 120]


def test_a_video_without_sound_downloads_as_picture_alone(tmp_path):
    silent = make_tracks(tmp_path / "streams", duration=DURATION, audio=False)
    plan = plan_of(silent, sound=False)
    out = assemble(plan, silent.root, tmp_path / "download.mp4")

    assert top_level_boxes(out) == ["ftyp", "moov", "mdat"]
    info = probe(out)
    assert [s["codec_name"] for s in info["streams"]] == ["h264"]
    assert float(info["format"]["duration"]) == pytest.approx(DURATION, abs=0.1)
    assert decode_errors(out) == ""
    assert video_frames(out) == int(DURATION * RATE)
    assert {p.stream_dir for p in plan.pieces} == {VIDEO_DIR}


def test_a_plan_whose_parts_do_not_add_up_is_refused(tracks):
    data = plan_of(tracks).to_json()
    DownloadPlan.from_json(data)
    with pytest.raises(ValueError, match="add up"):
        DownloadPlan.from_json({**data, "size": data["size"] + 1})


def test_the_lead_rung_made_of_segments_downloads_frame_for_frame(tmp_path):
    """The hls muxer's video starts with an empty edit and composition offsets from 0 up, where
    a single CMAF file has negative offsets: both give every frame, at the source's times."""
    lead = make_tracks(tmp_path / "streams", duration=DURATION, video_segments=True)
    assert lead.video.init_file == "init.mp4" and len(lead.video.fragments) == 3
    out = assemble(plan_of(lead), lead.root, tmp_path / "download.mp4")

    info = probe(out)
    assert [s["codec_name"] for s in info["streams"]] == ["h264", "aac"]
    assert float(info["format"]["duration"]) == pytest.approx(DURATION, abs=0.1)
    assert decode_errors(out) == ""
    assert video_frames(out) == int(DURATION * RATE)


def test_the_store_step_writes_the_plan_beside_the_video_stream(tracks):
    path = write_download_plan(tracks.root, VIDEO_DIR, tracks.video, AUDIO_DIR, tracks.audio)
    assert path == tracks.root / VIDEO_DIR / "download.json"
    assert DownloadPlan.from_json(json.loads(path.read_text())) == plan_of(tracks)
    path.unlink()


def test_sound_that_starts_later_starts_as_much_later_in_the_download(tracks, tmp_path):
    """Decode times begin at 0 in a plain MP4: a track whose first fragment starts later (tfdt)
    keeps its place by an empty edit, and a gap between fragments stretches the sample before it."""
    late, rate = 0.5, tracks.audio.timescale
    fragments = tracks.audio.fragments
    moved = [replace(f, start=f.start + int(late * rate) + (rate // 10 if n else 0)) for n, f in enumerate(fragments)]
    audio = replace(tracks.audio, fragments=tuple(moved))
    plan = download_plan(
        tracks.video,
        tracks.init(VIDEO_DIR, tracks.video),
        audio,
        tracks.init(AUDIO_DIR, audio),
        video_dir=VIDEO_DIR,
        audio_dir=AUDIO_DIR,
    )
    out = assemble(plan, tracks.root, tmp_path / "download.mp4")

    sound = probe(out, "-select_streams", "a")["streams"][0]
    assert float(sound["start_time"]) == pytest.approx(late, abs=0.01)
    assert float(sound["duration"]) == pytest.approx(audio.duration_s + 0.1, abs=0.03)
    assert decode_errors(out) == ""
