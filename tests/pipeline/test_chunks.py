"""A chunked encode must be indistinguishable from a whole-file one (checked with ffprobe)."""

import dataclasses
import itertools
import json
import re
import subprocess

import pytest

from media_tasks.pipeline import chunks, video
from media_tasks.pipeline.probe import probe
from media_tasks.pipeline.quality import measure_ssim
from tests.media import FFMPEG, make_video
from tests.pipeline.test_video import LIMITS


def _ffprobe(path, *args: str) -> dict:
    command = ["ffprobe", "-v", "error", *args, "-of", "json", str(path)]
    return json.loads(subprocess.run(command, capture_output=True, check=True, text=True).stdout)


def frames(path) -> list[float]:
    packets = _ffprobe(path, "-select_streams", "v:0", "-show_entries", "packet=pts_time")["packets"]
    return sorted(float(p["pts_time"]) for p in packets)


def stream_durations(path) -> dict[str, float]:
    streams = _ffprobe(path, "-show_entries", "stream=codec_type,duration")["streams"]
    return {s["codec_type"]: float(s["duration"]) for s in streams}


def segment_lengths(playlist) -> list[str]:
    return [line for line in playlist.read_text().splitlines() if line.startswith("#EXTINF:")]


def keyframes(path) -> list[float]:
    found = _ffprobe(path, "-select_streams", "v:0", "-skip_frame", "nokey", "-show_entries", "frame=pts_time")
    return [round(float(f["pts_time"]), 3) for f in found["frames"]]


@pytest.mark.parametrize(
    ("duration", "chunk", "expected"), [(60, 30, 2), (61, 30, 2), (76, 30, 3), (10, 30, 1), (9, 4, 2)]
)
def test_spans_cover_the_picture_on_the_keyframe_grid(duration, chunk, expected):
    spans = chunks.plan_spans(duration, chunk, start_time=0.5)
    assert len(spans) == expected and spans[0].start == 0.5 and spans[-1].end is None
    assert all(a.end == b.start for a, b in itertools.pairwise(spans))
    assert all((s.start - 0.5) % video.GOP_SECONDS == 0 for s in spans)


def test_cuts_move_to_save_pre_roll_but_not_for_less_than_they_shift():
    # x264's default GOP: keyframes every 8.33 s. At 8 s the cut would decode 8 s it drops.
    assert chunks.snap_cut(8.0, [0.0, 8.333], reach=2) == video.Span(start=10.0, seek=8.333)
    assert chunks.snap_cut(16.0, [8.333, 16.667], reach=2) == video.Span(start=18.0, seek=16.667)
    # A 1.5 s GOP: half a second of pre-roll is not worth unbalancing the chunks by 2 s.
    assert chunks.snap_cut(8.0, [4.5, 6.0, 7.5, 9.0], reach=2) == video.Span(start=8.0, seek=7.5)
    # No keyframe known: the span decodes from the beginning (slow, never wrong).
    assert chunks.snap_cut(8.0, [], reach=2) == video.Span(start=8.0)
    assert chunks.snap_cut(8.0, [9.0], reach=0) == video.Span(start=8.0)


def _sound_starts(path) -> float:
    """When the tone begins: a late first timestamp (padded with silence here) or leading silence."""
    command = ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(path)]
    command += ["-af", "aresample=first_pts=0,silencedetect=d=0.1", "-f", "null", "-"]
    log = subprocess.run(command, capture_output=True, text=True, check=True).stderr
    found = re.search(r"silence_start: 0\S*\n.*?silence_end: ([\d.]+)", log, re.S)
    return float(found.group(1)) if found else 0.0


def _assert_chunked_matches_whole(tmp_path, src, chunk_seconds: float, count: int) -> list[video.Span]:
    """Encode `src` whole and in chunks (joined with the sound), and compare with ffprobe."""
    info = probe(src, LIMITS)
    rungs = video.plan_ladder(info, [360, 240])
    whole = video.transcode_ladder(src, info, rungs, tmp_path / "whole", hls_dir=tmp_path / "whole" / "hls")

    spans = chunks.plan_chunks(src, info, chunk_seconds)
    assert len(spans) == count
    pieces = [video.encode_ladder(src, info, rungs, tmp_path / f"chunk{i}", span=s) for i, s in enumerate(spans)]
    audio = None
    if info.has_audio:  # both rungs at one bitrate here
        audio = tmp_path / "audio.m4a"
        chunks.encode_audio(src, info, {rungs[0].audio_kbps: audio})
    files = chunks.join(
        rungs,
        {rung.name: [p[rung.name] for p in pieces] for rung in rungs},
        {rungs[0].audio_kbps: audio} if audio else {},
        tmp_path / "joined",
        hls_dir=tmp_path / "hls",
    )
    joined = video.describe_videos(files)
    for rung in rungs:
        playlist = tmp_path / "hls" / rung.name / "index.m3u8"
        assert "#EXT-X-ENDLIST" in playlist.read_text()
        # The same segments as the whole-file encode's: its keyframes, where HLS cuts.
        assert segment_lengths(playlist) == segment_lengths(tmp_path / "whole" / "hls" / rung.name / "index.m3u8")

    frame_count = round(info.duration * info.frame_rate)
    for a, b in zip(whole, joined, strict=True):
        whole_frames, joined_frames = frames(a.path), frames(b.path)
        assert len(joined_frames) == len(whole_frames) == frame_count, (a.name, len(whole_frames), len(joined_frames))
        assert all(x < y for x, y in itertools.pairwise(joined_frames)), "timestamps not monotonic"
        assert joined_frames == pytest.approx(whole_frames, abs=1e-3)
        assert keyframes(b.path) == keyframes(a.path), "the keyframe grid moved"
        assert (b.width, b.height, b.codecs) == (a.width, a.height, a.codecs)
        if info.has_audio:
            durations = stream_durations(b.path)
            assert abs(durations["video"] - durations["audio"]) < 0.040, durations
            assert _sound_starts(b.path) == pytest.approx(_sound_starts(a.path), abs=0.040)
    whole_ssim = measure_ssim(src, info, whole, tmp_path / "s1")
    joined_ssim = measure_ssim(src, info, joined, tmp_path / "s2")
    for name in whole_ssim:
        assert abs(whole_ssim[name] - joined_ssim[name]) < 0.002, (whole_ssim, joined_ssim)
    return spans


def test_chunked_encode_matches_the_whole_file_encode(tmp_path):
    src = make_video(tmp_path / "src.mp4", width=640, height=360, duration=9.0, tone=330)
    _assert_chunked_matches_whole(tmp_path, src, chunk_seconds=4, count=2)


@pytest.mark.parametrize("suffix", [".mp4", ".ts"])
def test_chunks_of_a_long_gop_source_start_near_its_keyframes(tmp_path, suffix):
    # Keyframes every 6.67 s, and in MPEG-TS a clock that starts at 1.4 s and no seek index.
    # (Silent: TS puts the sound 21 ms before the picture, and a whole-file encode then
    # repeats the first frame to fill the gap; see the next test for sound that starts late.)
    src = make_video(
        tmp_path / f"src{suffix}", width=640, height=360, duration=18.0, gop=200, audio=suffix == ".mp4", tone=350
    )
    info = probe(src, LIMITS)
    origin = chunks.picture_start(src, info)
    # A probe stored before it recorded the start: ffprobe reads it again, the same.
    assert chunks.picture_start(src, dataclasses.replace(info, start_time=None)) == pytest.approx(origin, abs=1e-6)
    assert origin == pytest.approx(1.4 if suffix == ".ts" else 0.0, abs=0.05)
    spans = _assert_chunked_matches_whole(tmp_path, src, chunk_seconds=6, count=3)
    # Cut at 6 s and 12 s, the chunks would decode 6 s and 5.3 s they drop; at 8 s and 14 s,
    # 1.3 s and 0.7 s.
    assert [round(s.start - origin, 3) for s in spans] == [0, 8, 14]
    assert [None if s.seek is None else round(s.seek - origin, 3) for s in spans] == [None, 6.667, 13.333]


def test_chunks_of_an_ntsc_rate_source_keep_the_keyframe_grid(tmp_path):
    # At 29.97 fps a 60-frame GOP lasts 2.002 s: cuts on whole seconds would drift off the
    # whole-file keyframes by a frame every 33 s (here the cut near 36 s).
    src = make_video(tmp_path / "ntsc.mp4", width=640, height=360, duration=44.0, rate="30000/1001", gop=60, tone=370)
    spans = _assert_chunked_matches_whole(tmp_path, src, chunk_seconds=12, count=4)
    assert [s.seek for s in spans[1:]] == [pytest.approx(s.start, abs=1e-3) for s in spans[1:]], "no pre-roll"


def test_sound_that_starts_after_the_picture_still_does_after_the_join(tmp_path):
    src = tmp_path / "late.mp4"
    subprocess.run(
        [*FFMPEG, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=9", "-itsoffset", "0.5", "-f", "lavfi",
         "-i", "sine=frequency=500:sample_rate=48000:duration=8.5", "-c:v", "libx264", "-preset", "ultrafast",
         "-c:a", "aac", str(src)],
        check=True,
    )  # fmt: skip
    _assert_chunked_matches_whole(tmp_path, src, chunk_seconds=4, count=2)
    assert _sound_starts(tmp_path / "joined" / "360p.mp4") == pytest.approx(0.5, abs=0.040)


def test_the_sound_is_decoded_once_for_every_bitrate(tmp_path):
    src = make_video(tmp_path / "src.mp4", width=320, height=180, duration=4.0, tone=390, noise=True)
    info = probe(src, LIMITS)
    wanted = {96: tmp_path / "96.m4a", 128: tmp_path / "128.m4a"}
    chunks.encode_audio(src, info, wanted)
    rates = {}
    for kbps, path in wanted.items():
        (stream,) = _ffprobe(path, "-show_entries", "stream=codec_name,channels,sample_rate,bit_rate")["streams"]
        assert (stream["codec_name"], stream["channels"], stream["sample_rate"]) == ("aac", 2, "48000")
        rates[kbps] = int(stream["bit_rate"])
    assert rates[96] < rates[128]
