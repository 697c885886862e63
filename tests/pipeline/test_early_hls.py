"""The rungs' HLS grows while the encode runs (EVENT playlists, a short first segment) and is made
VOD at the end: a player may start on the early playlist and read on to the end."""

from pathlib import Path

import pytest

from media_tasks.pipeline.hls import early_master, playlist_segments, write_hls_master
from media_tasks.pipeline.probe import ProbeLimits, probe
from media_tasks.pipeline.video import (
    GOP_SECONDS,
    HLS_FIRST_SEGMENT_SECONDS,
    keyframe_interval,
    plan_ladder,
    transcode_ladder,
)
from tests.media import make_video

LIMITS = ProbeLimits(max_duration_s=3600, max_pixels=50_000_000)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    out = tmp_path_factory.mktemp("early")
    source = make_video(out / "src.mp4", width=854, height=480, duration=6.0)
    info = probe(source, LIMITS)
    rungs = plan_ladder(info, [480, 360])
    videos = transcode_ladder(source, info, rungs, out / "renditions", hls_dir=out / "hls")
    return info, rungs, videos, out / "hls"


def durations(playlist: Path) -> list[float]:
    return [float(line[8:].split(",")[0]) for line in playlist.read_text().splitlines() if line.startswith("#EXTINF:")]


def test_the_encode_writes_event_playlists_with_a_short_first_segment(encoded):
    info, rungs, _, hls = encoded
    for rung in rungs:
        playlist = hls / rung.name / "index.m3u8"
        text = playlist.read_text()
        assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text, text  # appended to while the encode runs
        lengths = durations(playlist)
        # Short segments up to the first GOP, then one GOP each: keyframes stay on the grid.
        first = round(GOP_SECONDS / HLS_FIRST_SEGMENT_SECONDS)
        assert lengths[:first] == pytest.approx([HLS_FIRST_SEGMENT_SECONDS] * first, abs=0.05), lengths
        assert lengths[first:] == pytest.approx([keyframe_interval(info.frame_rate)] * (len(lengths) - first), abs=0.05)
        assert sum(lengths) == pytest.approx(6.0, abs=0.1)
        names = playlist_segments(text)
        assert names[0] == "seg_00000.ts" and len(names) == len(lengths)
        assert not list((hls / rung.name).glob("*.tmp")), "ffmpeg renames its files once written"


def test_the_end_of_the_encode_makes_them_vod_with_the_same_segments(encoded):
    _, rungs, videos, hls = encoded
    before = {r.name: playlist_segments((hls / r.name / "index.m3u8").read_text()) for r in rungs}
    write_hls_master(videos, hls)
    for rung in rungs:
        text = (hls / rung.name / "index.m3u8").read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and "#EXT-X-ENDLIST" in text and "EVENT" not in text
        assert playlist_segments(text) == before[rung.name]


def test_the_early_master_names_the_rungs_it_is_given(encoded):
    _, rungs, _, _ = encoded
    text = early_master(rungs[-1:])
    assert text.startswith("#EXTM3U\n")
    assert "360p/index.m3u8" in text and "480p" not in text
    assert f"RESOLUTION={rungs[-1].width}x{rungs[-1].height}" in text
