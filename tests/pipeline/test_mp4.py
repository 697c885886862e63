import struct
import subprocess
from pathlib import Path

import pytest

from media_tasks.pipeline.exceptions import ProcessingError
from media_tasks.pipeline.mp4 import read_movie
from media_tasks.pipeline.renditions import describe_video
from tests.media import ffprobe, make_audio, moov_before_mdat, streams

# ffprobe's H.264 profile names → the profile byte of an RFC 6381 avc1 string.
PROFILES = {"High": "64", "Main": "4d", "Constrained Baseline": "42"}


def expected_from_ffprobe(path: Path) -> tuple:
    data = ffprobe(path)
    (video,) = streams(data, "video")
    level = f"{int(video['level']):02x}"
    return (
        video["width"],
        video["height"],
        float(data["format"]["duration"]),
        int(data["format"]["bit_rate"]),
        PROFILES[video["profile"]],
        level,
        [s["codec_name"] for s in streams(data, "audio")],
    )


@pytest.mark.parametrize("fixture", ["landscape_1080p", "portrait_720x1280", "small_silent"])
def test_the_index_says_what_ffprobe_says(fixture, request):
    """Sources written without faststart: the index is found after the media, which is skipped."""
    path = request.getfixturevalue(fixture)
    assert not moov_before_mdat(path)
    width, height, duration, bitrate, profile, level, audio = expected_from_ffprobe(path)
    described = describe_video("source", path)
    assert (described.width, described.height) == (width, height)
    assert described.duration == pytest.approx(duration, abs=0.001)
    assert described.bitrate == bitrate
    assert described.codecs.split(",")[0][:7] == f"avc1.{profile}"
    assert described.codecs.split(",")[0][-2:] == level
    assert described.video_codec == "h264"
    assert ([described.audio_codec] if described.audio_codec else []) == audio
    assert described.codecs.endswith(",mp4a.40.2") == bool(audio)


def test_constraint_flags_come_from_the_file(small_silent):
    """x264's ultrafast writes Constrained Baseline: profile 0x42 with constraint flags set, which
    a string rebuilt from the profile's name would get wrong."""
    assert read_movie(small_silent).track("vide").codec[:9] in {"avc1.42c0", "avc1.42e0"}


def test_a_64_bit_box_size_is_followed(small_silent, tmp_path):
    """Media over 4 GiB gets a 64-bit size; the index after it must still be found."""
    data = small_silent.read_bytes()
    (ftyp_size,) = struct.unpack_from(">I", data, 0)
    moov = data.index(b"moov") - 4
    (moov_size,) = struct.unpack_from(">I", data, moov)
    media = b"\0" * 1000
    wide = struct.pack(">I4sQ", 1, b"mdat", 16 + len(media)) + media
    path = tmp_path / "wide.mp4"
    path.write_bytes(data[:ftyp_size] + wide + data[moov : moov + moov_size])
    assert read_movie(path).track("vide").width == 320


def test_an_audio_file_has_no_picture(tmp_path):
    with pytest.raises(ProcessingError, match="has no picture"):
        describe_video("360p", make_audio(tmp_path / "sound.m4a"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # cut short: the index (at the end) is gone
        lambda data: data.replace(b"moov", b"free", 1),
        lambda data: b"\xff\xd8\xff\xe0 not a movie at all" * 10,
        lambda data: data[: data.index(b"moov") - 4] + struct.pack(">I", 2**31) + data[data.index(b"moov") :],
        lambda data: data[: data.index(b"stsd") + 12] + struct.pack(">I", 5) + data[data.index(b"stsd") + 16 :],
    ],
    ids=["truncated", "no-index", "not-mp4", "index-overruns-file", "box-smaller-than-its-header"],
)
def test_a_damaged_file_is_a_processing_error(small_silent, tmp_path, damage):
    path = tmp_path / "damaged.mp4"
    path.write_bytes(damage(small_silent.read_bytes()))
    with pytest.raises(ProcessingError, match="not an MP4 we can read"):
        read_movie(path)


def test_a_faststart_rendition_reads_the_same(small_silent, tmp_path):
    fast = tmp_path / "fast.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(small_silent), "-c", "copy", "-movflags", "+faststart", str(fast)],
        check=True,
    )
    assert moov_before_mdat(fast)
    assert read_movie(fast) == read_movie(small_silent)
