"""The lead rung's and the sound's HLS grows while the encode runs (EVENT playlists of fMP4
segments, a short first segment for the picture) and is made VOD at the end: a player may start
on the early playlists and read on to the end."""

from pathlib import Path

import pytest

from media_tasks.pipeline.hls import early_master, playlist_segments
from media_tasks.pipeline.identity import INIT
from media_tasks.pipeline.probe import ProbeLimits, probe
from media_tasks.pipeline.streams import transcode_ladder, write_manifests
from media_tasks.pipeline.tee import GOP_SECONDS, HLS_FIRST_SEGMENT_SECONDS, HLS_SEGMENT_SECONDS
from media_tasks.pipeline.video import (
    keyframe_interval,
    ladder_sound,
    plan_ladder,
)
from tests.media import make_video

LIMITS = ProbeLimits(max_duration_s=3600, max_pixels=50_000_000)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    out = tmp_path_factory.mktemp("early")
    source = make_video(out / "src.mp4", width=854, height=480, duration=6.0)
    info = probe(source, LIMITS)
    rungs = plan_ladder(info, [480, 360])
    ladder = transcode_ladder(source, info, rungs, out / "streams", segmented=[rungs[-1].name])
    return info, rungs, ladder, out / "streams"


def durations(playlist: Path) -> list[float]:
    return [float(line[8:].split(",")[0]) for line in playlist.read_text().splitlines() if line.startswith("#EXTINF:")]


def check_event_playlist(playlist: Path) -> list[float]:
    """An EVENT playlist of fMP4 segments, its init section first; the segments' lengths."""
    text = playlist.read_text()
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text, text  # appended to while the encode runs
    assert f'#EXT-X-MAP:URI="{INIT}"' in text, text
    assert (playlist.parent / INIT).stat().st_size > 0
    lengths = durations(playlist)
    names = playlist_segments(text)
    assert names[0] == "seg_00000.m4s" and len(names) == len(lengths)
    assert all((playlist.parent / name).stat().st_size > 0 for name in names)
    assert not list(playlist.parent.glob("*.tmp")), "ffmpeg renames its files once written"
    return lengths


def test_the_encode_writes_event_playlists_with_a_short_first_segment(encoded):
    info, rungs, _, root = encoded
    lengths = check_event_playlist(root / rungs[-1].stream.playlist)
    # Short segments up to the first GOP, then one GOP each: keyframes stay on the grid.
    first = round(GOP_SECONDS / HLS_FIRST_SEGMENT_SECONDS)
    assert lengths[:first] == pytest.approx([HLS_FIRST_SEGMENT_SECONDS] * first, abs=0.05), lengths
    assert lengths[first:] == pytest.approx([keyframe_interval(info.frame_rate)] * (len(lengths) - first), abs=0.05)
    assert sum(lengths) == pytest.approx(6.0, abs=0.1)
    # The other rung is one file, written whole: it has no growing playlist.
    assert not (root / rungs[0].stream.playlist).exists() and (root / rungs[0].stream.single_file).exists()


def test_the_sound_grows_beside_the_lead_in_segments_of_a_gop(encoded):
    info, _, ladder, root = encoded
    sound = ladder_sound(info)
    assert ladder.audio.stream == sound
    lengths = check_event_playlist(root / sound.playlist)
    # AAC frames of 1024 samples: a segment ends at the first frame past the GOP.
    assert lengths[:-1] == pytest.approx([HLS_SEGMENT_SECONDS] * (len(lengths) - 1), abs=0.03), lengths
    assert sum(lengths) == pytest.approx(6.0, abs=0.1)


def test_the_end_of_the_encode_makes_them_vod_with_the_same_segments(encoded):
    _, rungs, ladder, root = encoded
    grown = [root / rungs[-1].stream.playlist, root / ladder.audio.stream.playlist]
    before = {path: playlist_segments(path.read_text()) for path in grown}
    write_manifests(ladder)
    for path in grown:
        text = path.read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and "#EXT-X-ENDLIST" in text and "EVENT" not in text
        assert f'#EXT-X-MAP:URI="{INIT}"' in text
        assert playlist_segments(text) == before[path]


def test_the_early_master_names_the_rungs_it_is_given(encoded):
    info, rungs, _, _ = encoded
    lead, sound = rungs[-1], ladder_sound(info)
    text = early_master([(lead.stream, lead)], sound)
    assert text.startswith("#EXTM3U\n") and "#EXT-X-VERSION:7" in text
    assert "video/360p-h264/index.m3u8" in text and "480p" not in text
    assert f"RESOLUTION={lead.width}x{lead.height}" in text
    # The sound as the audio group the variant names, published early beside the lead.
    assert '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio"' in text and 'URI="audio/128k-aac/index.m3u8"' in text
    assert 'AUDIO="audio"' in text
    silent = early_master([(lead.stream, lead)], None)
    assert "#EXT-X-MEDIA" not in silent and "AUDIO=" not in silent and "video/360p-h264/index.m3u8" in silent
