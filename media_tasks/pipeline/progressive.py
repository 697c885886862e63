"""The MP4 download of a video rung (or the M4A of a sound alone), put together from the stored
CMAF tracks without storing the media again: a plan of a normal, progressive, faststart MP4 (ISO/IEC 14496-12) with the
picture and the sound, whose `head` (ftyp, moov, mdat header) is stored and whose body is the
samples' bytes, read by range from the tracks' files when someone downloads it.

The moov is built from the fMP4 init segments (stsd, hdlr, dinf, tkhd, edts copied) and the
fragments' trun tables (stts, ctts, stss, stsz, stsc, co64). Each fragment's samples lie together
in its mdat, so each becomes one chunk; chunks of the two tracks alternate by decode time, so a
player reading the file from the start has picture and sound for the same moment at hand.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from itertools import groupby
from pathlib import Path
from typing import Any, NamedTuple

from .fmp4 import Fragment, Sample, TrackIndex
from .identity import DOWNLOAD_PLAN

MOVIE_TIMESCALE = 1000
_MDAT_HEADER = 16  # a 64-bit size: the body of a long, high-bitrate rung can pass 4 GiB
_IDENTITY = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


class Piece(NamedTuple):
    """Bytes of the download's body: `length` bytes at `offset` of `<stream_dir>/<file>`."""

    stream_dir: str
    file: str
    offset: int
    length: int


@dataclass(frozen=True)
class DownloadPlan:
    size: int  # bytes of the whole MP4
    head: bytes  # ftyp + moov + the mdat's header
    pieces: tuple[Piece, ...]  # the mdat's body, in file order

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "head": base64.b64encode(self.head).decode("ascii"),
            "pieces": [list(piece) for piece in self.pieces],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DownloadPlan:
        """The plan `to_json` made; ValueError if its parts do not add up to its size."""
        pieces = tuple(Piece(str(d), str(f), int(o), int(n)) for d, f, o, n in data["pieces"])
        plan = cls(int(data["size"]), base64.b64decode(data["head"]), pieces)
        if plan.size != len(plan.head) + sum(p.length for p in pieces) or any(p.offset < 0 for p in pieces):
            raise ValueError("a download plan whose parts do not add up")
        return plan


@dataclass
class _Track:
    track_id: int
    index: TrackIndex
    init: bytes
    directory: str
    delay: int = 0  # how much later than the earliest track it starts, in the movie's timescale
    offsets: tuple[int, ...] = ()  # where each of its chunks starts in the MP4

    # Worked out once: the moov is built twice (to measure it, then with the chunks' offsets).
    @cached_property
    def samples(self) -> list[Sample]:
        return [s for f in self.index.fragments for s in f.samples]

    @cached_property
    def durations(self) -> list[int]:
        return _durations(self)

    @cached_property
    def shift(self) -> int:
        """How far composition offsets are moved up so that none is negative (CMAF's are; ctts
        version 0 is what every player reads): an edit list then starts the track that much later."""
        return max(0, -min((s.cto for s in self.samples), default=0))

    @cached_property
    def composition_end(self) -> int:
        """When the last sample to be shown ends, in the media's timescale (offsets shifted)."""
        decode, end = 0, 0
        for sample, duration in zip(self.samples, self.durations, strict=True):
            end = max(end, decode + sample.cto + self.shift + duration)
            decode += duration
        return end

    @cached_property
    def edits(self) -> list[tuple[int, int]]:
        return _edits(self)

    @cached_property
    def tables(self) -> list[bytes]:
        return _sample_tables(self)


def download_plan(
    video: TrackIndex,
    video_init: bytes,
    audio: TrackIndex | None,
    audio_init: bytes | None,
    *,
    video_dir: str,
    audio_dir: str | None,
) -> DownloadPlan:
    """The progressive MP4 of `video` (with `audio`, when there is sound): see the module's doc.
    `*_init` are the tracks' ftyp + moov; `*_dir` the stream directories the pieces name."""
    tracks = [_Track(1, video, video_init, video_dir)]
    if audio is not None and audio_init is not None and audio_dir is not None:
        tracks.append(_Track(2, audio, audio_init, audio_dir))
    _set_delays(tracks)
    order = _interleave(tracks)
    pieces = [Piece(t.directory, f.file, f.data_offset, _chunk_bytes(f)) for t, f in order]
    ftyp = _ftyp(video_init)
    for track in tracks:  # co64's size does not depend on the offsets: measure the moov with zeros
        track.offsets = (0,) * sum(1 for t, _ in order if t is track)
    position = len(ftyp) + len(_moov(tracks)) + _MDAT_HEADER
    starts: dict[int, list[int]] = {track.track_id: [] for track in tracks}
    for (track, _), piece in zip(order, pieces, strict=True):
        starts[track.track_id].append(position)
        position += piece.length
    for track in tracks:
        track.offsets = tuple(starts[track.track_id])
    body = sum(piece.length for piece in pieces)
    head = ftyp + _moov(tracks) + struct.pack(">I4sQ", 1, b"mdat", _MDAT_HEADER + body)
    return DownloadPlan(len(head) + body, head, tuple(pieces))


def write_download_plan(
    area: Path, video_dir: str, video: TrackIndex, audio_dir: str | None, audio: TrackIndex | None
) -> Path:
    """The store step's call: the plan of the video stream in `area/video_dir` (with the sound in
    `area/audio_dir`), written as `area/video_dir/download.json`; returns that path."""
    audio_init = (area / audio_dir / audio.init_file).read_bytes()[: audio.init_size] if audio and audio_dir else None
    video_init = (area / video_dir / video.init_file).read_bytes()[: video.init_size]
    plan = download_plan(video, video_init, audio, audio_init, video_dir=video_dir, audio_dir=audio_dir)
    path = area / video_dir / DOWNLOAD_PLAN
    path.write_text(json.dumps(plan.to_json(), separators=(",", ":")))
    return path


def _set_delays(tracks: list[_Track]) -> None:
    """A track whose first fragment starts later than the other's (tfdt) starts as much later in
    the MP4 too (an empty edit), where decode times begin at 0."""
    starts = [_first_start(track) / track.index.timescale for track in tracks]
    for track, start in zip(tracks, starts, strict=True):
        track.delay = round((start - min(starts)) * MOVIE_TIMESCALE)


def _first_start(track: _Track) -> int:
    return next((f.start for f in track.index.fragments if f.samples), 0)


def _interleave(tracks: list[_Track]) -> list[tuple[_Track, Fragment]]:
    """Every fragment with samples, by decode time; on a tie the picture first."""
    chunks = [(t, f) for t in tracks for f in t.index.fragments if f.samples]
    return sorted(chunks, key=lambda c: (c[1].start / c[0].index.timescale, c[0].track_id))


def _chunk_bytes(fragment: Fragment) -> int:
    return sum(sample.size for sample in fragment.samples)


# --- Boxes ------------------------------------------------------------------------------------


def _box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", version << 24 | flags), *parts)


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, whole box) of each box laid end to end in `data`."""
    position = 0
    while position + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, position)
        if size == 1:
            size = struct.unpack_from(">Q", data, position + 8)[0]
        elif size == 0:
            size = len(data) - position
        if size < 8:
            raise ValueError(f"a {kind!r} box of {size} bytes")
        yield kind, data[position : position + size]
        position += size


def _payload(box: bytes) -> bytes:
    return box[16:] if struct.unpack_from(">I", box)[0] == 1 else box[8:]


def _child(box: bytes, *path: bytes) -> bytes | None:
    """The first box at `path` under `box` (e.g. b"mdia", b"mdhd"), or None."""
    for kind in path:
        found = next((b for k, b in _boxes(_payload(box)) if k == kind), None)
        if found is None:
            return None
        box = found
    return box


def _trak(init: bytes) -> bytes:
    moov = next((b for k, b in _boxes(init) if k == b"moov"), None)
    trak = _child(moov, b"trak") if moov else None
    if trak is None:
        raise ValueError("an init segment without a moov and a trak")
    return trak


def _ftyp(video_init: bytes) -> bytes:
    """A plain MP4's brands, as ffmpeg's mp4 muxer writes them (the init's are CMAF's)."""
    entry = _payload(_child(_trak(video_init), b"mdia", b"minf", b"stbl", b"stsd") or b"\0" * 24)[12:16]
    if entry == b"mp4a":  # a sound alone: an M4A, branded as iTunes and ffmpeg's ipod muxer do
        return _box(b"ftyp", b"M4A ", struct.pack(">I", 0x200), b"M4A ", b"isom", b"iso2", b"mp41")
    brands = [b"isom", b"iso2"] + ([entry] if entry in (b"avc1", b"avc3", b"hvc1", b"hev1") else []) + [b"mp41"]
    return _box(b"ftyp", b"isom", struct.pack(">I", 0x200), *brands)


# --- The moov ---------------------------------------------------------------------------------


def _moov(tracks: list[_Track]) -> bytes:
    traks = [_trak_box(track) for track in tracks]
    duration = max(_movie_duration(track) for track in tracks)
    return _box(b"moov", _mvhd(duration, len(tracks) + 1), *traks)


def _mvhd(duration: int, next_track_id: int) -> bytes:
    times = struct.pack(">QQIQ", 0, 0, MOVIE_TIMESCALE, duration)  # version 1: no 32-bit limit to the duration
    rest = struct.pack(">IH10x", 0x10000, 0x100) + _IDENTITY + bytes(24) + struct.pack(">I", next_track_id)
    return _full_box(b"mvhd", 1, 0, times, rest)


def _trak_box(track: _Track) -> bytes:
    trak = _trak(track.init)
    mdia = _child(trak, b"mdia")
    minf = _child(mdia, b"minf") if mdia else None
    if minf is None:
        raise ValueError("an init segment's trak without mdia/minf")
    kept = [b for k, b in _boxes(_payload(minf)) if k != b"stbl"]  # vmhd or smhd, dinf
    co64 = _full_box(b"co64", 0, 0, struct.pack(f">I{len(track.offsets)}Q", len(track.offsets), *track.offsets))
    stbl = _box(b"stbl", _child(minf, b"stbl", b"stsd") or b"", *track.tables, co64)
    hdlr = _child(mdia, b"hdlr") or b""
    media = _box(b"mdia", _mdhd(_child(mdia, b"mdhd"), sum(track.durations)), hdlr, _box(b"minf", *kept, stbl))
    return _box(b"trak", _tkhd(_child(trak, b"tkhd"), track.track_id, _movie_duration(track)), *_edts(track), media)


def _tkhd(tkhd: bytes | None, track_id: int, duration: int) -> bytes:
    if tkhd is None:
        raise ValueError("an init segment's trak without tkhd")
    body = _payload(tkhd)
    rest = body[36:] if body[0] == 1 else body[24:]  # layer, volume, matrix, width, height: kept
    # flags 3: enabled and in the movie (an init may leave a track disabled for the player to pick)
    return _full_box(b"tkhd", 1, 3, struct.pack(">QQIIQ", 0, 0, track_id, 0, duration), rest)


def _mdhd(mdhd: bytes | None, duration: int) -> bytes:
    if mdhd is None:
        raise ValueError("an init segment's mdia without mdhd")
    body = _payload(mdhd)
    timescale, language = (body[20:24], body[32:36]) if body[0] == 1 else (body[12:16], body[20:24])
    return _full_box(b"mdhd", 1, 0, struct.pack(">QQ", 0, 0), timescale, struct.pack(">Q", duration), language)


def _scale(value: int, track: _Track) -> int:
    return value * MOVIE_TIMESCALE // track.index.timescale


def _edits(track: _Track) -> list[tuple[int, int]]:
    """(duration in the movie's timescale, media time) of each edit: the init's, moved by the
    track's `shift`, with the durations fragmented files leave at 0 ("to the end") filled in."""
    elst = _child(_trak(track.init), b"edts", b"elst")
    edits = []
    if elst is not None:
        body = _payload(elst)
        fmt, step = (">qq", 20) if body[0] == 1 else (">Ii", 12)
        for n in range(struct.unpack_from(">I", body, 4)[0]):
            edits.append(struct.unpack_from(fmt, body, 8 + n * step))
    if not edits:
        edits = [(0, 0)]
    end, shift = track.composition_end, track.shift
    filled = [(d or _scale(end - t - shift, track), t + shift) if t >= 0 else (d, -1) for d, t in edits]
    return ([(track.delay, -1)] if track.delay else []) + filled


def _edts(track: _Track) -> list[bytes]:
    edits = track.edits
    if len(edits) == 1 and edits[0][1] == 0 and not _child(_trak(track.init), b"edts"):
        return []  # the whole media from its start: no edit list needed
    entries = b"".join(struct.pack(">qqI", d, t, 0x10000) for d, t in edits)
    return [_box(b"edts", _full_box(b"elst", 1, 0, struct.pack(">I", len(edits)), entries))]


def _movie_duration(track: _Track) -> int:
    return sum(d for d, _ in track.edits)


def _durations(track: _Track) -> list[int]:
    """Each sample's decode duration; a fragment's last sample runs to the next fragment's start,
    so that a gap or overlap between fragments' decode times (tfdt) does not shift what follows."""
    fragments = [f for f in track.index.fragments if f.samples]
    durations: list[int] = []
    for fragment, following in zip(fragments, [*fragments[1:], None], strict=True):
        own = [s.duration for s in fragment.samples]
        if following is not None:
            last = following.start - fragment.start - sum(own[:-1])
            own[-1] = last if last > 0 else own[-1]
        durations += own
    return durations


# --- The sample tables ------------------------------------------------------------------------


def _sample_tables(track: _Track) -> list[bytes]:
    """stts, ctts, stss, stsz, stsc: all but the chunks' offsets."""
    samples, shift = track.samples, track.shift
    tables = [_full_box(b"stts", 0, 0, *_runs(track.durations))]
    if any(s.cto + shift for s in samples):
        tables.append(_full_box(b"ctts", 0, 0, *_runs([s.cto + shift for s in samples])))
    if not all(s.sync for s in samples):
        syncs = [n for n, s in enumerate(samples, 1) if s.sync]
        tables.append(_full_box(b"stss", 0, 0, struct.pack(f">{len(syncs) + 1}I", len(syncs), *syncs)))
    sizes = [s.size for s in samples]
    tables.append(_full_box(b"stsz", 0, 0, struct.pack(f">II{len(sizes)}I", 0, len(sizes), *sizes)))
    counts = [len(f.samples) for f in track.index.fragments if f.samples]
    starts = [n for n, c in enumerate(counts, 1) if n == 1 or c != counts[n - 2]]
    stsc = [struct.pack(">III", n, counts[n - 1], 1) for n in starts]
    tables.append(_full_box(b"stsc", 0, 0, struct.pack(">I", len(stsc)), *stsc))
    return tables


def _runs(values: list[int]) -> list[bytes]:
    """stts/ctts entries: the count, then (run length, value) for each run of equal values."""
    runs = [struct.pack(">II", sum(1 for _ in group), value) for value, group in groupby(values)]
    return [struct.pack(">I", len(runs)), *runs]
