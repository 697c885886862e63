import itertools
import re
import subprocess
from pathlib import Path

import pytest

from media_tasks.pipeline.hls import write_hls_master
from media_tasks.pipeline.probe import ProbeLimits, probe
from media_tasks.pipeline.video import (
    EncodeSettings,
    encode_ladder_command,
    plan_ladder,
    transcode_ladder,
)
from tests.media import ffprobe, moov_before_mdat, streams

LADDER = [1080, 720, 480, 360]
LIMITS = ProbeLimits(max_duration_s=3600, max_pixels=50_000_000)


def encode(source: Path, out: Path, progress: list[float] | None = None):
    info = probe(source, LIMITS)
    rungs = plan_ladder(info, LADDER)
    return info, transcode_ladder(
        source, info, rungs, out, on_progress=progress.append if progress is not None else None, hls_dir=out / "hls"
    )


def decoded_frame_hashes(path: Path) -> list[str]:
    """MD5 of every decoded picture: equal lists mean the same encoded frames."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def landscape_ladder(landscape_1080p, tmp_path_factory):
    progress: list[float] = []
    info, videos = encode(landscape_1080p, tmp_path_factory.mktemp("landscape"), progress)
    return info, videos, progress


def check_output(path: Path, width: int, height: int, source_duration: float, audio: bool) -> None:
    data = ffprobe(path)
    (video,) = streams(data, "video")
    assert (video["width"], video["height"]) == (width, height)
    assert video["codec_name"] == "h264"
    assert video["pix_fmt"] == "yuv420p"
    assert not any("rotation" in side for side in video.get("side_data_list", []))
    assert float(data["format"]["duration"]) == pytest.approx(source_duration, abs=0.1)
    assert [s["codec_name"] for s in streams(data, "audio")] == (["aac"] if audio else [])
    assert moov_before_mdat(path), "MP4 must be faststart (moov before mdat)"


def test_landscape_ladder_has_every_rung(landscape_ladder):
    info, videos, _ = landscape_ladder
    sizes = [(v.name, v.width, v.height) for v in videos]
    assert sizes == [("1080p", 1920, 1080), ("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360)]
    for v in videos:
        check_output(v.path, v.width, v.height, info.duration, audio=True)
        assert v.codecs.startswith("avc1.64") and v.codecs.endswith(",mp4a.40.2")
        assert v.bitrate > 0 and v.size_bytes == v.path.stat().st_size


def test_progress_comes_from_ffmpeg_and_ends_at_one(landscape_ladder):
    _, _, progress = landscape_ladder
    assert progress and progress[-1] == 1.0
    assert progress == sorted(progress)


def test_portrait_keeps_portrait_and_never_upscales(portrait_720x1280, tmp_path):
    info, videos = encode(portrait_720x1280, tmp_path)
    assert [(v.name, v.width, v.height) for v in videos] == [
        ("720p", 720, 1280),
        ("480p", 480, 854),
        ("360p", 360, 640),
    ]
    for v in videos:
        check_output(v.path, v.width, v.height, info.duration, audio=True)


def test_rotation_metadata_is_honoured(rotated_portrait, tmp_path):
    info, videos = encode(rotated_portrait, tmp_path)
    assert [(v.width, v.height) for v in videos] == [(720, 1280), (480, 854), (360, 640)]
    for v in videos:
        check_output(v.path, v.width, v.height, info.duration, audio=True)


def test_small_source_without_audio_gets_one_rendition_at_its_size(small_silent, tmp_path):
    info, videos = encode(small_silent, tmp_path)
    assert [(v.name, v.width, v.height) for v in videos] == [("240p", 320, 240)]
    check_output(videos[0].path, 320, 240, info.duration, audio=False)


def test_plan_keeps_aspect_with_even_sizes():
    from media_tasks.pipeline.probe import MediaInfo

    cinema = MediaInfo(kind="video", container="mov", width=1998, height=1080, duration=1, frame_rate=24)
    rungs = plan_ladder(cinema, LADDER)
    assert [(r.width, r.height) for r in rungs] == [(1998, 1080), (1332, 720), (888, 480), (666, 360)]
    odd = MediaInfo(kind="video", container="mov", width=333, height=251, duration=1, frame_rate=24)
    (only,) = plan_ladder(odd, LADDER)
    assert (only.width % 2, only.height % 2) == (0, 0) and only.height <= 251


def scaled_from(graph: str) -> dict[str, str]:
    """Each `scale` in a filter graph (by its size) → the size of the nearest `scale` upstream,
    or "source" when it reads the decoded picture itself."""
    made = {}
    for part in graph.split(";"):
        inputs, body, outputs = re.fullmatch(r"((?:\[[^\]]+\])+)([^\[]+)((?:\[[^\]]+\])+)", part).groups()
        for label in re.findall(r"\[([^\]]+)\]", outputs):
            made[label] = (body, re.findall(r"\[([^\]]+)\]", inputs)[0])

    def upstream(label: str) -> str:
        if label not in made:
            return "source"
        body, parent = made[label]
        return body.removeprefix("scale=") if body.startswith("scale=") else upstream(parent)

    return {
        body.removeprefix("scale="): upstream(parent) for body, parent in made.values() if body.startswith("scale=")
    }


def test_smaller_rungs_are_scaled_from_the_largest_downscaled_one(landscape_1080p, portrait_720x1280):
    """Half the scaling work: 480p and 360p come from the 720p picture, not from the source."""
    for source, expected in [
        (landscape_1080p, {"1920:1080": "source", "1280:720": "source", "854:480": "1280:720", "640:360": "1280:720"}),
        (portrait_720x1280, {"720:1280": "source", "480:854": "source", "360:640": "480:854"}),
    ]:
        info = probe(source, LIMITS)
        cmd = encode_ladder_command(source, info, plan_ladder(info, LADDER), Path("out"), EncodeSettings())
        assert scaled_from(cmd[cmd.index("-filter_complex") + 1]) == expected


def test_hls_comes_from_the_same_encode_with_a_master_playlist(landscape_ladder):
    _, videos, _ = landscape_ladder
    hls = videos[0].path.parent / "hls"
    package = write_hls_master(videos, hls)
    master = package.master.read_text()
    assert master.startswith("#EXTM3U")
    for v in videos:
        assert f"RESOLUTION={v.width}x{v.height}" in master
        assert f"{v.name}/index.m3u8" in master
        playlist = (hls / v.name / "index.m3u8").read_text()
        assert "#EXT-X-ENDLIST" in playlist and "#EXT-X-PLAYLIST-TYPE:VOD" in playlist
        segments = [line for line in playlist.splitlines() if line.endswith(".ts")]
        assert segments and all((hls / v.name / s).stat().st_size > 0 for s in segments)
        # The segments carry the MP4's own packets: the same frames, not a second encode.
        assert decoded_frame_hashes(hls / v.name / "index.m3u8") == decoded_frame_hashes(v.path), v.name
    stream_infos = [line for line in master.splitlines() if line.startswith("#EXT-X-STREAM-INF:")]
    bandwidths = [int(line.split("BANDWIDTH=")[1].split(",")[0]) for line in stream_infos]
    assert bandwidths == sorted(bandwidths, reverse=True) and all(b > 0 for b in bandwidths)


def test_tee_spec_names_only_short_relative_paths(tmp_path):
    from media_tasks.pipeline.video import rendition_slaves

    target = rendition_slaves(tmp_path / "720p.mp4", tmp_path / "hls" / "720p", tmp_path, [1, 4])
    assert str(tmp_path) not in target
    assert target.startswith(
        "[f=mp4:select=1,4:onfail=abort:movflags=+faststart]720p.mp4|[f=hls:select=1,4:onfail=abort:"
    )
    assert target.endswith("hls_segment_filename=hls/720p/seg_%05d.ts]hls/720p/index.m3u8")
    with pytest.raises(ValueError, match="unsafe name"):  # `:` or `|` would split the tee spec
        rendition_slaves(tmp_path / "a:b|c.mp4", tmp_path / "hls", tmp_path, [0])
    # Without HLS, the MP4 alone, still picking its own streams of the shared output.
    target = rendition_slaves(tmp_path / "360p.mp4", None, tmp_path, [3, 4])
    assert target == "[f=mp4:select=3,4:onfail=abort:movflags=+faststart]360p.mp4"


def audio_packets_md5(path: Path) -> str:
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a", "-c", "copy", "-f", "md5", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_the_sound_is_encoded_once_per_bitrate_and_shared_by_the_rungs(landscape_ladder, landscape_1080p):
    info, videos, _ = landscape_ladder
    rungs = plan_ladder(info, LADDER)
    assert [r.audio_kbps for r in rungs] == [128, 128, 96, 96]
    cmd = encode_ladder_command(landscape_1080p, info, rungs, Path("out"), EncodeSettings(), hls_dir=Path("out/hls"))
    sound = f"0:{info.audio_stream_index}"
    assert list(itertools.pairwise(cmd)).count(("-map", sound)) == 2, "one AAC encode per bitrate"
    by_name = {v.name: v.path for v in videos}
    # The rungs of one bitrate carry the very same AAC packets; the other bitrate differs.
    assert audio_packets_md5(by_name["1080p"]) == audio_packets_md5(by_name["720p"])
    assert audio_packets_md5(by_name["480p"]) == audio_packets_md5(by_name["360p"])
    assert audio_packets_md5(by_name["1080p"]) != audio_packets_md5(by_name["480p"])
    for name in by_name:
        playlist = by_name[name].parent / "hls" / name / "index.m3u8"
        assert [s["codec_name"] for s in streams(ffprobe(playlist), "audio")] == ["aac"], name
