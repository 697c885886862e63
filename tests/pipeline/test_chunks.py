"""A chunked encode must be indistinguishable from a whole-file one (checked with ffprobe)."""

import dataclasses
import itertools
import json
import re
import subprocess

import pytest

from media_tasks.pipeline import chunks, streams, tee, video
from media_tasks.pipeline.lead import lead_rung
from media_tasks.pipeline.probe import probe
from media_tasks.pipeline.quality import measure_ssim
from tests.media import FFMPEG, make_video
from tests.pipeline.cmaf_checks import check_ladder, keyframes_shown
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
    assert all((s.start - 0.5) % tee.GOP_SECONDS == 0 for s in spans)


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


def _played_together(picture: streams.EncodedStream, sound: streams.EncodedStream, out) -> object:
    """A rung's picture and the sound as one file, each on its own stored clock (as a player that
    fetches both tracks puts them together)."""
    command = [*FFMPEG, "-i", str(picture.local_file()), "-i", str(sound.local_file())]
    subprocess.run([*command, "-map", "0:v", "-map", "1:a", "-c", "copy", str(out)], check=True)
    return out


def _chunked(tmp_path, src, info, rungs: list[video.Rung], chunk_seconds: float) -> tuple[streams.Ladder, list]:
    """The ladder as a chunked job makes it (processing.chunked): the lead task encodes the lead
    rung and the sound over the whole source, segmented; the chunks encode the other rungs span
    by span; the join stream-copies their pieces into each rung's CMAF file beside the lead's."""
    lead = lead_rung(rungs)
    rest = [rung for rung in rungs if rung != lead]
    root = tmp_path / "joined"
    video.encode_ladder(src, info, [lead], root, segmented=[lead.name])
    spans = chunks.plan_chunks(src, info, chunk_seconds)
    pieces = [video.encode_ladder(src, info, rest, tmp_path / f"chunk{i}", span=s) for i, s in enumerate(spans)]
    for piece in pieces:  # the chunks are picture only: the sound is the lead's
        assert all(not ffprobe_streams(path, "audio") for path in piece.values())
    written = chunks.join(rest, {rung.name: [p[rung.name] for p in pieces] for rung in rest}, root)
    assert written == {rung.stream.directory: root / rung.stream.directory for rung in rest}
    return streams.index_ladder(root, [rung.stream for rung in rungs], video.ladder_sound(info)), spans


def ffprobe_streams(path, kind: str) -> list[dict]:
    return [s for s in _ffprobe(path, "-show_entries", "stream=codec_type")["streams"] if s["codec_type"] == kind]


def _assert_chunked_matches_whole(tmp_path, src, chunk_seconds: float, count: int) -> list[video.Span]:
    """Encode `src` whole and chunked (the sound from the lead's encode), and compare with ffprobe."""
    info = probe(src, LIMITS)
    rungs = video.plan_ladder(info, [360, 240, 180])  # two rungs joined by one ffmpeg, and the lead
    lead = lead_rung(rungs)
    whole = streams.transcode_ladder(src, info, rungs, tmp_path / "whole", segmented=[lead.name])
    joined, spans = _chunked(tmp_path, src, info, rungs, chunk_seconds)
    assert len(spans) == count
    check_ladder(joined, audio=info.has_audio)
    for a, b in zip(whole.videos, joined.videos, strict=True):
        assert b.index.single_file == a.index.single_file, b.stream  # the chunked rungs are one file each
        # The same fragments as the whole-file encode's: its keyframes, where players switch.
        assert [(f.start, f.duration) for f in b.index.fragments] == [(f.start, f.duration) for f in a.index.fragments]
        assert keyframes_shown(b) == keyframes_shown(a), b.stream

    frame_count = round(info.duration * info.frame_rate)
    for a, b in zip(whole.describe(), joined.describe(), strict=True):
        whole_frames, joined_frames = frames(a.path), frames(b.path)
        assert len(joined_frames) == len(whole_frames) == frame_count, (a.name, len(whole_frames), len(joined_frames))
        assert all(x < y for x, y in itertools.pairwise(joined_frames)), "timestamps not monotonic"
        assert joined_frames == pytest.approx(whole_frames, abs=1e-3)
        assert keyframes(b.path) == keyframes(a.path), "the keyframe grid moved"
        assert (b.width, b.height, b.codecs) == (a.width, a.height, a.codecs)
    if info.has_audio:
        # On the clock a player that ignores edit lists (MSE) reads: the sound from 0, as long as
        # the picture, whatever the source's sound started at (padded with silence).
        sound = joined.audio.index
        assert sound.fragments[0].start == 0 and whole.audio.index.fragments[0].start == 0
        assert abs(sound.duration_s - joined.videos[0].index.duration_s) < 0.040, sound.duration_s
        for i, (a, b) in enumerate(zip(whole.videos, joined.videos, strict=True)):
            together = _played_together(b, joined.audio, tmp_path / f"together-{i}.mp4")
            durations = stream_durations(together)
            assert abs(durations["video"] - durations["audio"]) < 0.040, durations
            whole_together = _played_together(a, whole.audio, tmp_path / f"whole-together-{i}.mp4")
            assert _sound_starts(together) == pytest.approx(_sound_starts(whole_together), abs=0.040)
    whole_ssim = measure_ssim(src, info, whole.describe(), tmp_path / "s1")
    joined_ssim = measure_ssim(src, info, joined.describe(), tmp_path / "s2")
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
    for i in range(2):
        assert _sound_starts(tmp_path / f"together-{i}.mp4") == pytest.approx(0.5, abs=0.040)


def test_the_sound_is_encoded_once_by_the_lead_and_the_join_writes_pictures_only(tmp_path):
    src = make_video(tmp_path / "src.mp4", width=320, height=180, duration=4.0, tone=390, noise=True)
    info = probe(src, LIMITS)
    rungs = video.plan_ladder(info, [180, 144])
    assert len(rungs) == 2
    ladder, _ = _chunked(tmp_path, src, info, rungs, chunk_seconds=2)
    root = tmp_path / "joined"
    assert sorted(p.relative_to(root).as_posix() for p in root.glob("*/*")) == [
        f"audio/{video.AUDIO_KBPS}k-aac",
        *sorted(rung.stream.directory for rung in rungs),
    ]
    assert len(ffprobe_streams(ladder.audio.local_file(), "audio")) == 1
    assert ffprobe_streams(ladder.audio.local_file(), "video") == []
    described = _ffprobe(ladder.audio.local_file(), "-show_entries", "stream=codec_name,channels,sample_rate,bit_rate")
    (stream,) = described["streams"]
    assert (stream["codec_name"], stream["channels"], stream["sample_rate"]) == ("aac", 2, "48000")
    assert int(stream["bit_rate"]) == pytest.approx(video.AUDIO_KBPS * 1000, rel=0.2)
    for encoded in ladder.videos:
        assert ffprobe_streams(encoded.local_file(), "audio") == [], encoded.stream
