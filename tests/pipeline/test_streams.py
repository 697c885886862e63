"""The platform's own encode (pipeline.lead) written as CMAF and made into what players read
(pipeline.streams): the lead and the sound as segments, the other rungs as one file each, every
stream on the same clock, and the manifests over them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from media_tasks.pipeline import video
from media_tasks.pipeline.identity import MASTER, MPD, TrackKind
from media_tasks.pipeline.lead import transcode_ladder_with_lead
from media_tasks.pipeline.probe import ProbeLimits, probe
from media_tasks.pipeline.streams import write_manifests
from tests.media import make_video

LIMITS = ProbeLimits(max_duration_s=3600, max_pixels=50_000_000)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    root = tmp_path_factory.mktemp("streams")
    source = make_video(root / "src.mp4", width=640, height=360, duration=3.0, tone=500)
    info = probe(source, LIMITS)
    rungs = video.plan_ladder(info, [360, 240])
    ladder = transcode_ladder_with_lead(source, info, rungs, root / "out")
    return info, ladder, write_manifests(ladder)


def test_the_lead_and_the_sound_are_segments_and_the_other_rungs_one_file(encoded):
    _, ladder, _ = encoded
    top, lead = ladder.videos
    assert top.index.single_file and [p.name for p in top.media_files()] == ["360p-h264.mp4"]
    assert not lead.index.single_file and lead.media_files()[0].name == "init.mp4"
    assert ladder.audio.stream.kind == TrackKind.AUDIO and not ladder.audio.index.single_file
    assert ladder.audio.index.codec == "mp4a.40.2" and ladder.audio.index.channels == 2


def earliest_shown(fragment) -> int:
    """When a fragment's first frame is shown (its keyframe: decode time plus composition offset)."""
    times, decode = [], fragment.start
    for sample in fragment.samples:
        times.append(decode + sample.cto)
        decode += sample.duration
    return min(times)


def test_every_rung_shows_each_frame_at_the_same_instant(encoded):
    """No edit list, signed composition offsets in both layouts: a player that ignores edit lists
    (MSE) would otherwise show the lead's frames two frames later than the other rungs'."""
    _, ladder, _ = encoded
    top, lead = ladder.videos
    shown = [[earliest_shown(f) for f in v.index.fragments] for v in (top, lead)]
    assert shown[0] == shown[1] and shown[0][0] == 0
    for v in ladder.videos:
        assert b"edts" not in v.init_bytes()


def test_the_manifests_name_every_stream_and_decode(encoded):
    _, ladder, manifests = encoded
    master = manifests.master.read_text()
    assert manifests.master.name == MASTER and manifests.mpd.name == MPD
    for v in [*ladder.videos, ladder.audio]:
        assert v.stream.playlist in master
        assert v.stream.directory in manifests.mpd.read_text()
    # The MPD is decoded over HTTP, as players read it (tests/pipeline/test_dash.py, tests/e2e/test_cmaf.py):
    # ffmpeg's dash demuxer ignores byte ranges on local paths.
    for url in (manifests.master,):
        done = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(url), "-map", "0:v:0", "-map", "0:a:0", "-f", "null", "-"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0 and not done.stderr.strip(), done.stderr[-500:]


def test_a_rungs_local_file_is_its_whole_stream(encoded):
    info, ladder, _ = encoded
    for v in ladder.videos:
        path: Path = v.local_file()
        frames = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-count_frames",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=nb_read_frames",
                "-of",
                "csv=p=0",
                str(path),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert int(frames) == sum(len(f.samples) for f in v.index.fragments) == round(info.duration * 30)
