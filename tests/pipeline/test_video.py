import re
import subprocess
from pathlib import Path

import pytest

from media_tasks.pipeline import streams as stream_ops
from media_tasks.pipeline.identity import MASTER, MPD
from media_tasks.pipeline.probe import ProbeLimits, probe
from media_tasks.pipeline.tee import cmaf_tee, piece_slave, stream_slave
from media_tasks.pipeline.video import (
    AUDIO_KBPS,
    EncodeSettings,
    encode_ladder_command,
    plan_ladder,
)
from tests.media import ffprobe, streams
from tests.pipeline.cmaf_checks import check_ladder

LADDER = [1080, 720, 480, 360]
LIMITS = ProbeLimits(max_duration_s=3600, max_pixels=50_000_000)


def encode(source: Path, out: Path, progress: list[float] | None = None):
    """The ladder as a whole-file encode writes it: the lowest rung (the lead) and the sound as
    segments, the other rungs as one CMAF file each."""
    info = probe(source, LIMITS)
    rungs = plan_ladder(info, LADDER)
    ladder = stream_ops.transcode_ladder(
        source,
        info,
        rungs,
        out,
        on_progress=progress.append if progress is not None else None,
        segmented=[rungs[-1].name],
    )
    return info, ladder


def decoded_frame_hashes(path: Path | str, selector: str = "0:v") -> list[str]:
    """MD5 of every decoded picture (or sound frame): equal lists mean the same encoded frames."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", selector, "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def landscape_ladder(landscape_1080p, tmp_path_factory):
    progress: list[float] = []
    info, ladder = encode(landscape_1080p, tmp_path_factory.mktemp("landscape"), progress)
    return info, ladder, progress


def check_output(path: Path, width: int, height: int, source_duration: float) -> None:
    """A rung's picture: the size planned, H.264 4:2:0, upright, as long as the source, alone."""
    data = ffprobe(path)
    (video,) = streams(data, "video")
    assert (video["width"], video["height"]) == (width, height)
    assert video["codec_name"] == "h264"
    assert video["pix_fmt"] == "yuv420p"
    assert not any("rotation" in side for side in video.get("side_data_list", []))
    assert float(data["format"]["duration"]) == pytest.approx(source_duration, abs=0.1)
    assert streams(data, "audio") == [], "the sound is a stream of its own, not muxed into a rung"


def check_sound(ladder: stream_ops.Ladder, source_duration: float) -> None:
    """The one sound stream: AAC-LC stereo 48 kHz, as long as the source."""
    assert ladder.audio is not None
    data = ffprobe(ladder.audio.local_file())
    (audio,) = streams(data, "audio")
    assert (audio["codec_name"], audio["profile"], audio["channels"], audio["sample_rate"]) == ("aac", "LC", 2, "48000")
    assert float(data["format"]["duration"]) == pytest.approx(source_duration, abs=0.1)
    assert ladder.audio.index.codec == "mp4a.40.2"


def check_ladder_outputs(info, ladder: stream_ops.Ladder, *, audio: bool) -> None:
    check_ladder(ladder, audio=audio)
    for v in ladder.describe():
        check_output(v.path, v.width, v.height, info.duration)
    if audio:
        check_sound(ladder, info.duration)


def test_landscape_ladder_has_every_rung(landscape_ladder):
    info, ladder, _ = landscape_ladder
    videos = ladder.describe()
    sizes = [(v.name, v.width, v.height) for v in videos]
    assert sizes == [("1080p", 1920, 1080), ("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360)]
    check_ladder_outputs(info, ladder, audio=True)
    # One CMAF file per rung, the lead (lowest) as segments: it is published while it grows.
    assert [v.index.single_file for v in ladder.videos] == [True, True, True, False]
    assert not ladder.audio.index.single_file
    for v, encoded in zip(videos, ladder.videos, strict=True):
        assert v.codecs.startswith("avc1.64") and v.codecs.endswith(",mp4a.40.2")
        assert v.bitrate > 0 and v.size_bytes == sum(p.stat().st_size for p in encoded.media_files())


def test_progress_comes_from_ffmpeg_and_ends_at_one(landscape_ladder):
    _, _, progress = landscape_ladder
    assert progress and progress[-1] == 1.0
    assert progress == sorted(progress)


def test_portrait_keeps_portrait_and_never_upscales(portrait_720x1280, tmp_path):
    info, ladder = encode(portrait_720x1280, tmp_path)
    assert [(v.name, v.width, v.height) for v in ladder.describe()] == [
        ("720p", 720, 1280),
        ("480p", 480, 854),
        ("360p", 360, 640),
    ]
    check_ladder_outputs(info, ladder, audio=True)


def test_rotation_metadata_is_honoured(rotated_portrait, tmp_path):
    info, ladder = encode(rotated_portrait, tmp_path)
    assert [(v.width, v.height) for v in ladder.describe()] == [(720, 1280), (480, 854), (360, 640)]
    check_ladder_outputs(info, ladder, audio=True)


def test_small_source_without_audio_gets_one_rendition_at_its_size(small_silent, tmp_path):
    info, ladder = encode(small_silent, tmp_path)
    videos = ladder.describe()
    assert [(v.name, v.width, v.height) for v in videos] == [("240p", 320, 240)]
    check_ladder_outputs(info, ladder, audio=False)
    assert videos[0].codecs.startswith("avc1.") and "mp4a" not in videos[0].codecs
    assert not (tmp_path / "audio").exists()


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
    _, ladder, _ = landscape_ladder
    root = ladder.videos[0].root
    manifests = stream_ops.write_manifests(ladder)
    master = manifests.master.read_text()
    assert manifests.master == root / MASTER and master.startswith("#EXTM3U")
    assert "#EXT-X-VERSION:7" in master and '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio"' in master
    for v, encoded in zip(ladder.describe(), ladder.videos, strict=True):
        assert f"RESOLUTION={v.width}x{v.height}" in master
        assert f"{encoded.stream.playlist}\n" in master
        playlist_path = root / encoded.stream.playlist
        playlist = playlist_path.read_text()
        assert "#EXT-X-ENDLIST" in playlist and "#EXT-X-PLAYLIST-TYPE:VOD" in playlist
        assert "#EXT-X-MAP:" in playlist
        named = {line for line in playlist.splitlines() if line and not line.startswith("#")}
        assert named and all((playlist_path.parent / name).stat().st_size > 0 for name in named)
        # The playlist reads the stream's own packets: the same frames, no second copy.
        assert decoded_frame_hashes(playlist_path) == decoded_frame_hashes(encoded.local_file()), v.name
    sound = root / ladder.audio.stream.playlist
    assert f'URI="{ladder.audio.stream.playlist}"' in master
    assert decoded_frame_hashes(sound, "0:a") == decoded_frame_hashes(ladder.audio.local_file(), "0:a")
    stream_infos = [line for line in master.splitlines() if line.startswith("#EXT-X-STREAM-INF:")]
    assert len(stream_infos) == len(ladder.videos) and all('AUDIO="audio"' in line for line in stream_infos)
    bandwidths = [int(line.split("BANDWIDTH=")[1].split(",")[0]) for line in stream_infos]
    assert bandwidths == sorted(bandwidths, reverse=True) and all(b > 0 for b in bandwidths)
    # Every stream is stored once: the tree holds its media files, its playlist, the download
    # plans and the two manifests, nothing else (joined/ is describe()'s local copy, never stored).
    expected = {root / MASTER, root / MPD, *manifests.playlists, *manifests.plans}
    for encoded in [*ladder.videos, ladder.audio]:
        expected.update(encoded.media_files())
    stored = {p for p in root.rglob("*") if p.is_file() and "joined" not in p.relative_to(root).parts}
    assert stored == expected, sorted(str(p.relative_to(root)) for p in stored ^ expected)


def test_tee_spec_names_only_short_relative_paths(tmp_path):
    rungs = plan_ladder(probe_free_info(), [720, 360])
    videos = [rung.stream for rung in rungs]
    target = stream_slave(videos[0], 0, tmp_path, segmented=False)
    assert target == (
        "[f=mp4:select=0:onfail=abort:movflags=+frag_keyframe+empty_moov+default_base_moof+cmaf]"
        "video/720p-h264/720p-h264.mp4"
    )
    lead = stream_slave(videos[1], 1, tmp_path, segmented=True)
    assert lead.startswith("[f=hls:select=1:onfail=abort:") and ":hls_segment_type=fmp4:" in lead
    assert ":hls_init_time=1:" in lead and ":hls_fmp4_init_filename=init.mp4:" in lead
    assert lead.endswith("hls_segment_filename=video/360p-h264/seg_%05d.m4s]video/360p-h264/index.m3u8")
    spec = cmaf_tee(videos, None, tmp_path, [videos[1]])
    assert spec == f"{target}|{lead}"
    assert str(tmp_path) not in spec
    assert (tmp_path / "video/720p-h264").is_dir() and (tmp_path / "video/360p-h264").is_dir()
    # A chunk's piece: a plain MP4 of one picture.
    assert piece_slave(tmp_path / "360p.mp4", tmp_path, 3) == "[f=mp4:select=3:onfail=abort]360p.mp4"
    with pytest.raises(ValueError, match="unsafe name"):  # `:` or `|` would split the tee spec
        piece_slave(tmp_path / "a:b|c.mp4", tmp_path, 0)


def probe_free_info():
    from media_tasks.pipeline.probe import MediaInfo

    return MediaInfo(kind="video", container="mov", width=1280, height=720, duration=1, frame_rate=30)


def test_the_sound_is_encoded_once_and_shared_by_the_rungs(landscape_ladder, landscape_1080p):
    info, ladder, _ = landscape_ladder
    rungs = plan_ladder(info, LADDER)
    assert not any(hasattr(r, "audio_kbps") for r in rungs), "one sound for every rung"
    cmd = encode_ladder_command(landscape_1080p, info, rungs, Path("out"), EncodeSettings(), segmented=["360p"])
    sound = f"[0:{info.audio_stream_index}]"
    graph = cmd[cmd.index("-filter_complex") + 1]
    # The source's sound read once, into one AAC encoder (no per-stream `-b:a:N`), one output.
    assert graph.count(sound) == 1 and "aresample=first_pts=0" in graph
    assert [arg for arg in cmd if arg.startswith("-b:a")] == ["-b:a"] and cmd.count("-c:a") == 1
    tee = next(arg for arg in cmd if arg.startswith("[f="))
    assert tee.count("audio/") == 2 and "audio/128k-aac/index.m3u8" in tee  # its segments and playlist
    silent = encode_ladder_command(landscape_1080p, info, rungs, Path("out"), EncodeSettings(), sound=False)
    assert sound not in silent[silent.index("-filter_complex") + 1] and "-b:a" not in silent
    assert "audio/" not in next(arg for arg in silent if arg.startswith("[f="))
    # One sound stream in the tree, at the ladder's one bitrate; no rung carries sound.
    root = ladder.videos[0].root
    assert [p.relative_to(root).as_posix() for p in (root / "audio").iterdir()] == [f"audio/{AUDIO_KBPS}k-aac"]
    assert ladder.audio.stream.directory == f"audio/{AUDIO_KBPS}k-aac"
    (audio,) = streams(ffprobe(ladder.audio.local_file()), "audio")
    assert int(audio["bit_rate"]) == pytest.approx(AUDIO_KBPS * 1000, rel=0.2)
    for encoded in ladder.videos:
        assert streams(ffprobe(encoded.local_file()), "audio") == [], encoded.stream
    # Each playlist carries its own stream only: a player fetches the sound once, from its group.
    for encoded in ladder.videos:
        playlist = root / encoded.stream.playlist
        if playlist.exists():  # the lead's growing playlist, or the final ones
            assert streams(ffprobe(playlist), "audio") == [], encoded.stream
