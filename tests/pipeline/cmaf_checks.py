"""What is true of every stream the encode writes (identity.py's layout), checked from the files
themselves: a CMAF track is fragmented (ftyp moov, then moof mdat pairs; moov has mvex and no
samples of its own), holds one track of one media type, and each of a picture's fragments starts
on a keyframe. The boxes are read here with a walker of our own and ffprobe, not with
pipeline.fmp4 alone, so a misreading there does not hide a bad file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from media_tasks.pipeline.streams import EncodedStream, Ladder

HANDLERS = {"video": b"vide", "audio": b"soun"}


def boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[str, int, int]]:
    """(type, offset, size) of the boxes in data[start:end], in order."""
    end = len(data) if end is None else end
    found, pos = [], start
    while pos + 8 <= end:
        size, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        elif size == 0:
            size = end - pos
        assert size >= 8 and pos + size <= end, f"a broken {kind!r} box at {pos}"
        found.append((kind, pos, size))
        pos += size
    assert pos == end, f"{end - pos} stray bytes after the last box"
    return found


def children(data: bytes, box: tuple[str, int, int], header: int = 8) -> list[tuple[str, int, int]]:
    _, pos, size = box
    return boxes(data, pos + header, pos + size)


def top_level(path: Path) -> list[str]:
    return [kind for kind, _, _ in boxes(path.read_bytes())]


def check_init(data: bytes, kind: str) -> None:
    """An init section's moov: one track of `kind`, fragmented (mvex), no samples of its own."""
    top = boxes(data)
    moov = next(b for b in top if b[0] == "moov")
    inside = children(data, moov)
    traks = [b for b in inside if b[0] == "trak"]
    assert len(traks) == 1, f"{len(traks)} tracks in one CMAF track's moov"
    assert "mvex" in [b[0] for b in inside], "not fragmented: the moov has no mvex"
    trak = data[traks[0][1] : traks[0][1] + traks[0][2]]
    hdlr = trak.find(b"hdlr")
    assert trak[hdlr + 12 : hdlr + 16] == HANDLERS[kind], trak[hdlr + 12 : hdlr + 16]
    stsz = trak.find(b"stsz")
    assert int.from_bytes(trak[stsz + 12 : stsz + 16], "big") == 0, "samples in the moov"


def check_fragments(kinds: list[str], *, single: bool) -> None:
    """moof mdat pairs, each moof followed by its mdat (a segment may open with styp and sidx; one
    file may end with the mfra that indexes its fragments)."""
    if single and kinds[-1:] == ["mfra"]:
        kinds = kinds[:-1]
    body = [k for k in kinds if k not in ("styp", "sidx", "free")]
    assert body and body[::2] == ["moof"] * (len(body) // 2) and body[1::2] == ["mdat"] * (len(body) // 2), kinds
    assert len(body) % 2 == 0, kinds
    if single:
        assert "styp" not in kinds


def probe_streams(path: Path) -> list[dict]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_streams", str(path)], capture_output=True, check=True
    ).stdout
    return json.loads(out)["streams"]


def keyframe_times(path: Path) -> list[float]:
    """When the picture's keyframes are decoded, as ffmpeg's demuxer reads them (packets flagged K).
    Decode times, not ffmpeg's presentation times: reading joined fMP4 segments, ffmpeg shifts the
    latter by the most negative composition offset seen so far, which grows along the file."""
    args = ["-select_streams", "v:0", "-show_entries", "packet=dts_time,flags"]
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *args, str(path)], capture_output=True, check=True
    ).stdout
    return sorted(float(p["dts_time"]) for p in json.loads(out)["packets"] if p["flags"].startswith("K"))


def check_stream(encoded: EncodedStream, kind: str) -> None:
    """One stream as the encode left it: its files are CMAF of one track of `kind`, and (a picture)
    every fragment opens with a keyframe, the fragments being where ffprobe finds the keyframes."""
    index = encoded.index
    files = encoded.media_files()
    init = files[0].read_bytes()[: index.init_size]
    assert [k for k, _, _ in boxes(init)] == ["ftyp", "moov"], "the init section is ftyp + moov"
    check_init(init, kind)
    if index.single_file:
        (path,) = files
        kinds = top_level(path)
        assert kinds[:2] == ["ftyp", "moov"], kinds
        check_fragments(kinds[2:], single=True)
    else:
        assert top_level(files[0]) == ["ftyp", "moov"], "a segmented stream's init.mp4 holds no media"
        for segment in files[1:]:
            check_fragments(top_level(segment), single=False)
            assert top_level(segment).count("moof") == 1, f"{segment.name}: one fragment per segment"
    assert index.fragments, "no fragment"
    local = encoded.local_file()
    assert [s["codec_type"] for s in probe_streams(local)] == [kind], "one media type per track"
    if kind == "video":
        assert all(f.samples[0].sync for f in index.fragments), "a fragment that does not open on a keyframe"
        # One fragment per keyframe, each starting at its keyframe (ffprobe and our index agree).
        assert keyframe_times(local) == pytest.approx(fragment_starts(encoded), abs=0.001)


def fragment_starts(encoded: EncodedStream) -> list[float]:
    """Where each fragment starts on the track's decode clock (tfdt), in seconds."""
    index = encoded.index
    return [round(f.start / index.timescale, 3) for f in index.fragments]


def keyframes_shown(encoded: EncodedStream) -> list[float]:
    """When each fragment's keyframe is shown, as a player that ignores edit lists (MSE) puts it:
    its decode time plus its composition offset."""
    index = encoded.index
    return [round((f.start + f.samples[0].cto) / index.timescale, 3) for f in index.fragments]


def check_ladder(ladder: Ladder, *, audio: bool) -> None:
    """Every stream of the ladder is CMAF; the rungs' fragments start at the same instants and
    on keyframes at the same times (a player switches rungs at fragment bounds)."""
    for video in ladder.videos:
        check_stream(video, "video")
    assert (ladder.audio is not None) == audio
    if ladder.audio is not None:
        check_stream(ladder.audio, "audio")
    first = ladder.videos[0]
    for video in ladder.videos[1:]:
        assert fragment_starts(video) == fragment_starts(first), video.stream
        assert keyframes_shown(video) == keyframes_shown(first), video.stream
