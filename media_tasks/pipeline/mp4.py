"""What the platform needs to know of an MP4 it wrote, read from the file's index (the `moov`
box, ISO/IEC 14496-12) in this process, instead of starting an ffprobe per rendition.

The index holds the duration, each track's kind and sample entry, the picture size, and the
H.264 profile and level that an HLS CODECS attribute is made of (RFC 6381: `avc1.` + the
three bytes after the version in `avcC`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .exceptions import ProcessingError

_HEADER = struct.Struct(">I4s")
# A VisualSampleEntry's fields before its own boxes (avcC, pasp, ...): 8 of SampleEntry, 70 visual.
_VISUAL_ENTRY_FIELDS = 78


@dataclass(frozen=True)
class Track:
    handler: str  # "vide", "soun", ...
    entry: str  # the sample entry's type: "avc1", "mp4a", ...
    codec: str = ""  # RFC 6381 for H.264 ("avc1.640028"), else the entry's type
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class Movie:
    duration: float  # seconds, from the movie header
    tracks: tuple[Track, ...]

    def track(self, handler: str) -> Track | None:
        return next((t for t in self.tracks if t.handler == handler), None)


def read_movie(path: Path) -> Movie:
    """The movie header and every track's first sample entry; ProcessingError if the index is
    missing or does not add up."""
    try:
        moov = _read_moov(path)
        duration, tracks = 0.0, []
        for kind, start, end in _boxes(moov, 0, len(moov)):
            if kind == b"mvhd":
                duration = _movie_duration(moov, start)
            elif kind == b"trak":
                tracks.append(_track(moov, start, end))
        return Movie(duration=duration, tracks=tuple(tracks))
    except (struct.error, ValueError, OSError) as exc:
        raise ProcessingError(f"{path.name} is not an MP4 we can read.") from exc


def _read_moov(path: Path) -> bytes:
    """The `moov` box's payload, wherever it is among the top-level boxes (first after a
    faststart, last otherwise: the media in between is skipped, not read)."""
    with path.open("rb") as fh:
        file_size = fh.seek(0, 2)
        pos = 0
        while pos + 8 <= file_size:
            fh.seek(pos)
            kind, header, size = _header(fh.read(16), 0, file_size - pos)
            if kind == b"moov":
                fh.seek(pos + header)
                return fh.read(size - header)
            pos += size
    raise ValueError("no moov box")


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        kind, header, size = _header(data, pos, end)
        yield kind, pos + header, pos + size
        pos += size


def _header(data: bytes, pos: int, end: int) -> tuple[bytes, int, int]:
    """(type, header length, size) of the box at data[pos:], which must end by `end`: a
    size of 1 means a 64-bit size follows, 0 means "to the end"."""
    size, kind = _HEADER.unpack_from(data, pos)
    header = 8
    if size == 1:
        (size,) = struct.unpack_from(">Q", data, pos + 8)
        header = 16
    elif size == 0:
        size = end - pos
    if size < header or pos + size > end:
        raise ValueError(f"box {kind!r} overruns its parent")
    return kind, header, size


def _find(data: bytes, start: int, end: int, *path: bytes) -> tuple[int, int]:
    """The payload bounds of the box at `path` below data[start:end] (the first of each type)."""
    for wanted in path:
        found = next(((s, e) for kind, s, e in _boxes(data, start, end) if kind == wanted), None)
        if found is None:
            raise ValueError(f"no {wanted!r} box")
        start, end = found
    return start, end


def _movie_duration(data: bytes, start: int) -> float:
    if data[start] == 1:  # version 1: 64-bit times and duration
        timescale, duration = struct.unpack_from(">IQ", data, start + 20)
    else:
        timescale, duration = struct.unpack_from(">II", data, start + 12)
    return duration / timescale if timescale else 0.0


def _track(data: bytes, start: int, end: int) -> Track:
    hdlr, _ = _find(data, start, end, b"mdia", b"hdlr")
    handler = data[hdlr + 8 : hdlr + 12].decode("latin-1")
    stsd, stsd_end = _find(data, start, end, b"mdia", b"minf", b"stbl", b"stsd")
    entry = next(_boxes(data, stsd + 8, stsd_end), None)  # after version, flags and entry count
    if entry is None:
        return Track(handler=handler, entry="")
    kind, entry_start, entry_end = entry
    name = kind.decode("latin-1")
    if handler != "vide":
        return Track(handler=handler, entry=name, codec=name)
    if entry_end - entry_start < _VISUAL_ENTRY_FIELDS:
        raise ValueError("short visual sample entry")
    width, height = struct.unpack_from(">HH", data, entry_start + 24)
    codec = name
    for child, s, e in _boxes(data, entry_start + _VISUAL_ENTRY_FIELDS, entry_end):
        if child == b"avcC" and e - s >= 4:
            codec = f"{name}.{data[s + 1 : s + 4].hex()}"
    return Track(handler=handler, entry=name, codec=codec, width=width, height=height)
