"""fmp4: the index of CMAF tracks as the ladder's tee writes them (one file, or init + segments),
checked against the files' own boxes and against ffprobe."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest

from media_tasks.pipeline import fmp4
from media_tasks.pipeline.exceptions import ProcessingError
from media_tasks.pipeline.identity import audio_stream, video_stream
from media_tasks.pipeline.video import forced_keyframes
from tests.media import FFMPEG, make_video

DURATION = 5
SINGLE = video_stream("180p")  # one CMAF file, addressed by byte ranges
LEAD = video_stream("90p")  # init.mp4 + seg_*.m4s, as the lead rung is written
SOUND = audio_stream(128)


def _hls_slave(select: int, stream, init_time: int) -> str:
    return (
        f"[f=hls:select={select}:hls_time=2:hls_init_time={init_time}:hls_playlist_type=event:"
        "hls_flags=independent_segments+temp_file:hls_segment_type=fmp4:hls_fmp4_init_filename=init.mp4:"
        f"hls_segment_filename={stream.directory}/seg_%05d.m4s]{stream.playlist}"
    )


def make_cmaf_ladder(root: Path) -> Path:
    """A 5 s source written as the design's tee writes a ladder: 320x180 as one CMAF file,
    160x90 and the sound as HLS fMP4 segments. veryfast (not ultrafast) so that there are
    B-frames, hence composition offsets. Returns `root`, the stream area."""
    for stream in (SINGLE, LEAD, SOUND):
        (root / stream.directory).mkdir(parents=True, exist_ok=True)
    tee = "|".join(
        [
            f"[f=mp4:select=0:movflags=+frag_keyframe+empty_moov+default_base_moof+cmaf]{SINGLE.single_file}",
            _hls_slave(1, LEAD, 1),
            _hls_slave(2, SOUND, 2),
        ]
    )
    args = [
        *FFMPEG,
        "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=30:duration={DURATION}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={DURATION}",
        "-filter_complex", "[0:v]split=2[a][b];[b]scale=160:90[c]",
        "-map", "[a]", "-map", "[c]", "-map", "1:a",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "60", "-sc_threshold", "0",
        "-force_key_frames", forced_keyframes(30),
        "-c:a", "aac", "-ac", "2", "-ar", "48000", "-b:a", "128k",
        "-flags:v", "+global_header", "-flags:a", "+global_header",
        "-f", "tee", tee,
    ]  # fmt: skip
    subprocess.run(args, check=True, cwd=root)
    return root


def segments_of(root: Path, stream) -> list[str]:
    text = (root / stream.playlist).read_text()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def probe_duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out)


@pytest.fixture(scope="module")
def ladder(tmp_path_factory) -> Path:
    return make_cmaf_ladder(tmp_path_factory.mktemp("cmaf"))


@pytest.fixture(scope="module")
def single(ladder) -> fmp4.TrackIndex:
    return fmp4.index_single_file(ladder / SINGLE.single_file)


@pytest.fixture(scope="module")
def lead(ladder) -> fmp4.TrackIndex:
    return fmp4.index_segments(ladder / LEAD.directory, segments_of(ladder, LEAD))


@pytest.fixture(scope="module")
def sound(ladder) -> fmp4.TrackIndex:
    return fmp4.index_segments(ladder / SOUND.directory, segments_of(ladder, SOUND))


def _box_at(data: bytes, pos: int) -> tuple[bytes, int]:
    size, kind = struct.unpack_from(">I4s", data, pos)
    return kind, size


def _seconds(index: fmp4.TrackIndex) -> list[float]:
    return [f.duration / index.timescale for f in index.fragments]


def test_a_single_file_is_indexed_one_fragment_per_keyframe(single, ladder):
    assert (single.handler, single.width, single.height) == ("vide", 320, 180)
    assert single.codec.startswith("avc1.") and len(single.codec) == len("avc1.64000d")
    assert single.init_file == "180p-h264.mp4" and single.single_file
    # Keyframes at 0, 1, 2 and 4 s: fragments of 1, 1, 2 and 1 s.
    assert _seconds(single) == pytest.approx([1, 1, 2, 1])
    assert [f.start for f in single.fragments] == [0, 1 * single.timescale, 2 * single.timescale, 4 * single.timescale]
    for fragment in single.fragments:
        assert fragment.file == "180p-h264.mp4"
        assert fragment.samples[0].sync and not any(s.sync for s in fragment.samples[1:])
        assert fragment.duration == sum(s.duration for s in fragment.samples)
    assert any(s.cto for f in single.fragments for s in f.samples)  # B-frames
    assert single.duration_s == pytest.approx(probe_duration(ladder / SINGLE.single_file), abs=1e-3)


def test_a_single_files_byte_ranges_cover_each_moof_and_mdat(single, ladder):
    data = (ladder / SINGLE.single_file).read_bytes()
    assert _box_at(data, 0)[0] == b"ftyp"
    kind, size = _box_at(data, 28)
    assert kind == b"moov" and single.init_size == 28 + size
    position = single.init_size
    for fragment in single.fragments:
        assert fragment.offset == position  # one after another, nothing left out
        kind, moof_size = _box_at(data, fragment.offset)
        assert kind == b"moof"
        kind, mdat_size = _box_at(data, fragment.offset + moof_size)
        assert kind == b"mdat"
        assert fragment.size == moof_size + mdat_size
        assert fragment.data_offset == fragment.offset + moof_size + 8
        assert sum(s.size for s in fragment.samples) == mdat_size - 8
        position += fragment.size
    assert _box_at(data, position)[0] == b"mfra"  # the only thing after the last fragment


def test_segments_are_indexed_one_fragment_per_file(lead, ladder):
    names = segments_of(ladder, LEAD)
    assert (lead.handler, lead.width, lead.height, lead.init_file) == ("vide", 160, 90, "init.mp4")
    assert not lead.single_file
    assert lead.init_size == (ladder / LEAD.init).stat().st_size
    assert [f.file for f in lead.fragments] == names
    assert _seconds(lead) == pytest.approx([1, 1, 2, 1])
    for fragment in lead.fragments:
        data = (ladder / LEAD.directory / fragment.file).read_bytes()
        assert (fragment.offset, fragment.size) == (0, len(data))  # styp and sidx included
        kind, mdat_size = _box_at(data, fragment.data_offset - 8)
        assert kind == b"mdat" and fragment.data_offset - 8 + mdat_size == len(data)
        assert sum(s.size for s in fragment.samples) == mdat_size - 8
        assert fragment.samples[0].sync
    assert lead.duration_s == pytest.approx(probe_duration(ladder / LEAD.playlist), abs=1e-3)


def test_the_sound_is_indexed_with_its_rate_and_channels(sound, ladder):
    assert (sound.handler, sound.codec, sound.sample_rate, sound.channels) == ("soun", "mp4a.40.2", 48000, 2)
    assert (sound.width, sound.height) == (0, 0)
    assert sound.timescale == 48000
    assert all(s.sync for f in sound.fragments for s in f.samples)
    assert [f.start for f in sound.fragments] == [sum(f.duration for f in sound.fragments[:i]) for i in range(3)]
    assert sound.duration_s == pytest.approx(probe_duration(ladder / SOUND.playlist), abs=1e-3)


def test_an_index_survives_json(single, sound):
    for index in (single, sound):
        data = json.loads(json.dumps(fmp4.to_json(index)))
        assert fmp4.from_json(data) == index


def test_bandwidth_is_the_peak_and_average_over_fragments(single):
    peak, average = fmp4.bandwidth(single)
    rates = [f.size * 8 * single.timescale / f.duration for f in single.fragments]
    assert peak == pytest.approx(max(rates), abs=1)
    total = sum(f.size for f in single.fragments) * 8 / single.duration_s
    assert average == pytest.approx(total, abs=1)
    assert peak > average > 0


def test_what_is_not_one_fragmented_track_is_refused(tmp_path):
    muxed = make_video(tmp_path / "plain.mp4", width=160, height=90, duration=1.0)  # two tracks, no fragments
    with pytest.raises(ProcessingError):
        fmp4.index_single_file(muxed)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not an mp4 at all" * 10)
    with pytest.raises(ProcessingError):
        fmp4.index_single_file(junk)
    with pytest.raises(ProcessingError):
        fmp4.index_segments(tmp_path, ["missing.m4s"], init="junk.mp4")
