"""hls: the media playlists and the master over CMAF streams, read back by ffmpeg and ffprobe."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from media_tasks.pipeline import fmp4, hls
from media_tasks.pipeline.identity import MASTER
from media_tasks.pipeline.video import Rung
from tests.pipeline.test_fmp4 import DURATION, LEAD, SINGLE, SOUND, make_cmaf_ladder, segments_of


@pytest.fixture(scope="module")
def ladder(tmp_path_factory) -> Path:
    return make_cmaf_ladder(tmp_path_factory.mktemp("cmaf-hls"))


@pytest.fixture(scope="module")
def indexes(ladder) -> dict:
    return {
        SINGLE: fmp4.index_single_file(ladder / SINGLE.single_file),
        LEAD: fmp4.index_segments(ladder / LEAD.directory, segments_of(ladder, LEAD)),
        SOUND: fmp4.index_segments(ladder / SOUND.directory, segments_of(ladder, SOUND)),
    }


@pytest.fixture(scope="module")
def written(ladder, indexes) -> Path:
    """The stream area with our playlists in it (the segmented streams' replace ffmpeg's)."""
    for stream, index in indexes.items():
        (ladder / stream.playlist).write_text(hls.media_playlist(index))
    videos = [(SINGLE, indexes[SINGLE]), (LEAD, indexes[LEAD])]
    (ladder / MASTER).write_text(hls.master_playlist(videos, (SOUND, indexes[SOUND])))
    return ladder


def _attributes(line: str) -> dict[str, str]:
    """An HLS tag's attributes (quoted values hold no commas in ours but CODECS': split on quotes)."""
    out, rest = {}, line.split(":", 1)[1]
    while rest:
        name, rest = rest.split("=", 1)
        if rest.startswith('"'):
            value, rest = rest[1:].split('"', 1)
        else:
            value, _, rest = rest.partition(",")
            rest = "," + rest if rest else ""
        out[name] = value
        rest = rest.removeprefix(",")
    return out


def test_a_single_files_playlist_addresses_each_fragment_by_byte_range(indexes):
    index = indexes[SINGLE]
    lines = hls.media_playlist(index).splitlines()
    head = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        f'#EXT-X-MAP:URI="180p-h264.mp4",BYTERANGE="{index.init_size}@0"',
    ]
    assert lines[: len(head)] == head
    body = []
    for fragment, seconds in zip(index.fragments, ["1.000000", "1.000000", "2.000000", "1.000000"], strict=True):
        body += [f"#EXTINF:{seconds},", f"#EXT-X-BYTERANGE:{fragment.size}@{fragment.offset}", "180p-h264.mp4"]
    assert lines[len(head) :] == [*body, "#EXT-X-ENDLIST"]


def test_a_segmented_playlist_names_its_segments(indexes, ladder):
    lines = hls.media_playlist(indexes[SOUND]).splitlines()
    assert '#EXT-X-MAP:URI="init.mp4"' in lines
    assert "#EXT-X-TARGETDURATION:3" in lines  # 2.005333 s segments: rounded up
    assert hls.playlist_segments("\n".join(lines)) == segments_of(ladder, SOUND)
    assert [line for line in lines if line.startswith("#EXTINF")] == [
        "#EXTINF:2.005333,",
        "#EXTINF:2.005333,",
        "#EXTINF:1.010667,",
    ]
    assert not any(line.startswith("#EXT-X-BYTERANGE") for line in lines)
    assert lines[-1] == hls.ENDLIST


def test_the_master_names_an_audio_group_that_every_variant_plays_with(written, indexes):
    lines = (written / MASTER).read_text().splitlines()
    assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    media = _attributes(next(line for line in lines if line.startswith("#EXT-X-MEDIA:")))
    assert media["TYPE"] == "AUDIO" and media["GROUP-ID"] == "audio" and media["URI"] == SOUND.playlist
    assert (media["DEFAULT"], media["AUTOSELECT"], media["CHANNELS"]) == ("YES", "YES", "2")
    variants = [
        (_attributes(line), lines[i + 1]) for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF")
    ]
    assert [uri for _, uri in variants] == [SINGLE.playlist, LEAD.playlist]  # largest first, as given
    sound_peak, sound_average = fmp4.bandwidth(indexes[SOUND])
    for (attributes, _), stream in zip(variants, (SINGLE, LEAD), strict=True):
        index = indexes[stream]
        peak, average = fmp4.bandwidth(index)
        assert int(attributes["BANDWIDTH"]) == peak + sound_peak
        assert int(attributes["AVERAGE-BANDWIDTH"]) == average + sound_average
        assert attributes["RESOLUTION"] == f"{index.width}x{index.height}"
        assert attributes["CODECS"] == f"{index.codec},mp4a.40.2"
        assert attributes["AUDIO"] == "audio"


def test_without_sound_the_master_names_the_picture_alone(indexes):
    text = hls.master_playlist([(SINGLE, indexes[SINGLE])], None)
    assert "#EXT-X-MEDIA" not in text and "AUDIO=" not in text
    assert f'CODECS="{indexes[SINGLE].codec}"' in text


def test_the_early_master_has_the_planned_rates(written):
    rung = Rung(name="90p", width=160, height=90, maxrate_kbps=300)
    text = hls.early_master([(LEAD, rung)], SOUND)
    lines = text.splitlines()
    assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    assert f'URI="{SOUND.playlist}"' in text and 'GROUP-ID="audio"' in text
    variant = _attributes(next(line for line in lines if line.startswith("#EXT-X-STREAM-INF")))
    assert variant == {"BANDWIDTH": str((300 + 128) * 1000), "RESOLUTION": "160x90", "AUDIO": "audio"}
    assert lines[-1] == LEAD.playlist
    silent = hls.early_master([(LEAD, rung)], None)
    assert "AUDIO" not in silent and "BANDWIDTH=300000," in silent
    # ffmpeg's own EVENT playlists stand under it while the encode runs.
    (written / "early.m3u8").write_text(text)
    _decode(written / "early.m3u8")


def _decode(playlist: Path) -> None:
    run = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(playlist), "-map", "0", "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and not run.stderr, run.stderr


def _extents(playlist: Path) -> dict[str, tuple[int, float]]:
    """Per stream type: how many streams ffprobe sees, and the latest a packet of that type ends."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_packets", str(playlist)],
        check=True,
        capture_output=True,
    ).stdout
    data = json.loads(out)
    kinds = {s["index"]: s["codec_type"] for s in data["streams"]}
    ends: dict[str, float] = {}
    for packet in data["packets"]:
        kind = kinds[packet["stream_index"]]
        ends[kind] = max(ends.get(kind, 0.0), float(packet["pts_time"]) + float(packet.get("duration_time", 0)))
    return {kind: (list(kinds.values()).count(kind), end) for kind, end in ends.items()}


def test_ffmpeg_plays_the_master_whole(written):
    _decode(written / MASTER)
    extents = _extents(written / MASTER)
    # One picture per variant, the one sound under both.
    assert extents["video"][0] == 2 and extents["audio"][0] == 1
    assert extents["video"][1] == pytest.approx(DURATION, abs=0.1)
    assert extents["audio"][1] == pytest.approx(DURATION, abs=0.1)


@pytest.mark.parametrize("stream", [SINGLE, LEAD])
def test_each_variant_plays_with_one_video_and_one_audio_stream(written, stream):
    variant = written / f"{stream.rung}.m3u8"
    master = (written / MASTER).read_text().splitlines()
    keep = [
        line
        for i, line in enumerate(master)
        if not (line.startswith("#EXT-X-STREAM-INF") and master[i + 1] != stream.playlist)
        and not (line.startswith("video/") and line != stream.playlist)
    ]
    variant.write_text("\n".join(keep) + "\n")
    extents = _extents(variant)
    assert (extents["video"][0], extents["audio"][0]) == (1, 1)
    assert extents["video"][1] == pytest.approx(DURATION, abs=0.1)
