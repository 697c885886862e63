"""A fragmented MP4 (CMAF) track as the manifests and the downloads need it, read from its boxes
(ISO/IEC 14496-12) in this process: where each fragment lies, when it starts and how long it
lasts, and every sample's size, duration, composition offset and sync flag.

A track is stored either as one file (`ftyp moov (moof mdat)*`, addressed by byte ranges) or as
an init segment and media segment files (`styp [sidx] moof mdat` each); both index the same way.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, BinaryIO

from .exceptions import ProcessingError
from .mp4 import _boxes, _find, _header, _track


@dataclass(frozen=True)
class Sample:
    size: int
    duration: int  # in the track's timescale
    cto: int  # composition time offset (signed), in the timescale
    sync: bool


@dataclass(frozen=True)
class Fragment:
    file: str  # the file holding it, relative to the stream's directory ("720p-h264.mp4", "seg_00003.m4s")
    offset: int  # where it starts in that file (0 for a segment file: its styp and sidx included)
    size: int  # bytes from `offset` to the end of its mdat: the byte range a player fetches
    data_offset: int  # where its first sample's bytes are in that file
    start: int  # decode time of its first sample (tfdt), in the timescale
    duration: int  # its samples' durations added up
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class TrackIndex:
    handler: str  # "vide" or "soun"
    init_file: str  # "720p-h264.mp4" (a single file) or "init.mp4" (segments)
    init_size: int  # bytes of ftyp + moov at the start of init_file
    timescale: int
    codec: str  # RFC 6381: "avc1.64001f", "mp4a.40.2"
    width: int  # 0 for sound
    height: int
    sample_rate: int  # 0 for picture
    channels: int
    fragments: tuple[Fragment, ...]

    @property
    def single_file(self) -> bool:
        return self.init_file != "init.mp4"

    @property
    def duration_s(self) -> float:
        return sum(f.duration for f in self.fragments) / self.timescale if self.timescale else 0.0


def index_single_file(path: Path) -> TrackIndex:
    """The index of a CMAF file with one track; ProcessingError if it is not one."""
    try:
        with path.open("rb") as fh:
            boxes = _top_level(fh)
            header = _init_header(fh, boxes)
            return _index(header, path.name, _fragments(fh, header, path.name, boxes, 0))
    except _UNREADABLE as exc:
        raise ProcessingError(f"{path.name} is not a fragmented MP4 track we can read ({exc}).") from exc


def index_segments(directory: Path, segments: Sequence[str], init: str = "init.mp4") -> TrackIndex:
    """The index of a segmented track: `directory/init` and the media segments named, in order."""
    name = init
    try:
        with (directory / init).open("rb") as fh:
            header = _init_header(fh, _top_level(fh))
        fragments: list[Fragment] = []
        for name in segments:
            with (directory / name).open("rb") as fh:
                after = fragments[-1].start + fragments[-1].duration if fragments else 0
                found = _fragments(fh, header, name, _top_level(fh), after)
            if len(found) != 1:
                raise ValueError(f"{len(found)} fragments in one segment")
            # A segment is fetched whole: its styp and sidx belong to it.
            fragments.append(replace(found[0], offset=0, size=found[0].offset + found[0].size))
        return _index(header, init, fragments)
    except _UNREADABLE as exc:
        raise ProcessingError(f"{name} is not a fragmented MP4 track we can read ({exc}).") from exc


def bandwidth(index: TrackIndex) -> tuple[int, int]:
    """Peak and average bits per second over the fragments (the bytes a player fetches for each),
    as HLS's BANDWIDTH and AVERAGE-BANDWIDTH want them."""
    timed = [f for f in index.fragments if f.duration > 0]
    if not timed:
        return 0, 0
    peak = max(f.size * 8 * index.timescale / f.duration for f in timed)
    average = sum(f.size for f in timed) * 8 * index.timescale / sum(f.duration for f in timed)
    return math.ceil(peak), math.ceil(average)


def to_json(index: TrackIndex) -> dict[str, Any]:
    """The index as JSON data, samples by column: sizes, durations (one number when all are
    equal), composition offsets (left out when all are 0) and the
    positions of the sync samples."""
    data: dict[str, Any] = {name: getattr(index, name) for name in _TRACK_FIELDS}
    data["fragments"] = [_fragment_json(f) for f in index.fragments]
    return data


def from_json(data: dict[str, Any]) -> TrackIndex:
    """The index to_json wrote."""
    fragments = tuple(_fragment_from_json(f) for f in data["fragments"])
    return TrackIndex(**{name: data[name] for name in _TRACK_FIELDS}, fragments=fragments)


# --- reading the boxes ---------------------------------------------------------------------------

Box = tuple[bytes, int, int, int]  # (type, position, header length, size) in a file
_UNREADABLE = (struct.error, ValueError, IndexError, OSError)
# tfhd's flags: which optional fields follow the track ID (ISO/IEC 14496-12, 8.8.7).
_BASE_DATA_OFFSET, _DESCRIPTION_INDEX, _DEFAULT_DURATION, _DEFAULT_SIZE, _DEFAULT_FLAGS = 0x1, 0x2, 0x8, 0x10, 0x20
# trun's flags (8.8.8), and in a sample's flags, sample_is_non_sync_sample (8.8.3.1).
_DATA_OFFSET, _FIRST_FLAGS = 0x1, 0x4
_DURATION, _SIZE, _FLAGS, _CTO = 0x100, 0x200, 0x400, 0x800
_NON_SYNC = 0x10000
_TRACK_FIELDS = tuple(f.name for f in fields(TrackIndex) if f.name != "fragments")
# An AudioSampleEntry's fields before its own boxes (esds, ...): 8 of SampleEntry, 20 audio.
_AUDIO_ENTRY_FIELDS = 28


@dataclass(frozen=True)
class _Header:
    """What the init segment (ftyp + moov) says of the track, its fragments' defaults included."""

    track_id: int
    handler: str
    timescale: int
    codec: str
    width: int
    height: int
    sample_rate: int
    channels: int
    init_size: int
    default_duration: int  # mvex/trex: what a tfhd does not override
    default_size: int
    default_flags: int


def _top_level(fh: BinaryIO) -> list[Box]:
    """(type, position, header length, size) of each top-level box; the media is skipped, not read."""
    file_size = fh.seek(0, 2)
    boxes, pos = [], 0
    while pos + 8 <= file_size:
        fh.seek(pos)
        kind, head, size = _header(fh.read(16), 0, file_size - pos)
        boxes.append((kind, pos, head, size))
        pos += size
    if pos != file_size:
        raise ValueError("trailing bytes after the last box")
    return boxes


def _payload(fh: BinaryIO, pos: int, head: int, size: int) -> bytes:
    fh.seek(pos + head)
    data = fh.read(size - head)
    if len(data) != size - head:
        raise ValueError("short read")
    return data


def _init_header(fh: BinaryIO, boxes: list[Box]) -> _Header:
    found = next((box for box in boxes if box[0] == b"moov"), None)
    if found is None:
        raise ValueError("no moov box")
    _, pos, head, size = found
    moov = _payload(fh, pos, head, size)
    traks = [(s, e) for kind, s, e in _boxes(moov, 0, len(moov)) if kind == b"trak"]
    if len(traks) != 1:
        raise ValueError(f"{len(traks)} tracks, not one")
    start, end = traks[0]
    track = _track(moov, start, end)
    if track.handler not in ("vide", "soun"):
        raise ValueError(f"a {track.handler!r} track")
    tkhd, tkhd_end = _find(moov, start, end, b"tkhd")
    track_id = _u32(moov, tkhd + (20 if moov[tkhd] == 1 else 12))
    mdhd, _ = _find(moov, start, end, b"mdia", b"mdhd")
    timescale = _u32(moov, mdhd + (20 if moov[mdhd] == 1 else 12))
    if not timescale:
        raise ValueError("no timescale")
    duration, size_, flags = _trex_defaults(moov, track_id)
    codec, sample_rate, channels = track.codec, 0, 0
    width, height = track.width, track.height
    if track.handler == "soun":
        codec, sample_rate, channels = _sound_entry(moov, start, end)
    else:
        # The track header's size is the picture's on screen (16.16 fixed point); the entry's, stored.
        shown = [value >> 16 for value in struct.unpack_from(">II", moov, tkhd_end - 8)]
        if all(shown):
            width, height = shown
    return _Header(
        track_id, track.handler, timescale, codec, width, height, sample_rate, channels,
        pos + size, duration, size_, flags,
    )  # fmt: skip


def _trex_defaults(moov: bytes, track_id: int) -> tuple[int, int, int]:
    """The track's default sample duration, size and flags (mvex/trex); ValueError where there is
    no mvex: a file that is not fragmented."""
    start, end = _find(moov, 0, len(moov), b"mvex")
    for kind, s, _ in _boxes(moov, start, end):
        if kind == b"trex" and _u32(moov, s + 4) == track_id:
            return struct.unpack_from(">III", moov, s + 12)
    raise ValueError("no trex box for the track")


def _sound_entry(moov: bytes, start: int, end: int) -> tuple[str, int, int]:
    """(RFC 6381 codec, sample rate, channels) of an audio track's first sample entry."""
    stsd, stsd_end = _find(moov, start, end, b"mdia", b"minf", b"stbl", b"stsd")
    kind, entry, entry_end = next(_boxes(moov, stsd + 8, stsd_end))
    channels = struct.unpack_from(">H", moov, entry + 16)[0]
    sample_rate = _u32(moov, entry + 24) >> 16  # 16.16 fixed point
    codec = kind.decode("latin-1")
    if kind == b"mp4a":
        codec = "mp4a.40.2"  # AAC-LC, unless the esds says otherwise
        for child, s, _ in _boxes(moov, entry + _AUDIO_ENTRY_FIELDS, entry_end):
            if child == b"esds":
                codec = "mp4a.{:02x}.{}".format(*_esds_codec(moov, s))
    return codec, sample_rate, channels


def _esds_codec(data: bytes, pos: int) -> tuple[int, int]:
    """(objectTypeIndication, audio object type) from an esds box's descriptors (ISO/IEC 14496-1
    7.2.6: ES_Descriptor > DecoderConfigDescriptor > DecoderSpecificInfo's AudioSpecificConfig)."""
    pos = _descriptor(data, pos + 4, 0x03)  # after the box's version and flags
    es_flags = data[pos + 2]
    pos += 3 + (2 if es_flags & 0x80 else 0)  # ES_ID, flags, dependsOn_ES_ID
    if es_flags & 0x40:  # a URL
        pos += 1 + data[pos]
    pos += 2 if es_flags & 0x20 else 0  # OCR_ES_Id
    pos = _descriptor(data, pos, 0x04)
    object_type = data[pos]
    pos = _descriptor(data, pos + 13, 0x05)
    audio_type = data[pos] >> 3
    if audio_type == 31:  # an escape: 6 more bits
        audio_type = 32 + (((data[pos] & 0x07) << 3) | (data[pos + 1] >> 5))
    return object_type, audio_type


def _descriptor(data: bytes, pos: int, tag: int) -> int:
    """Where the payload of the descriptor at `pos` starts; its length takes 1 to 4 bytes."""
    if data[pos] != tag:
        raise ValueError(f"descriptor {data[pos]:#x} where {tag:#x} belongs")
    pos += 1
    for _ in range(4):
        pos += 1
        if not data[pos - 1] & 0x80:
            break
    return pos


def _u32(data: bytes, pos: int) -> int:
    return struct.unpack_from(">I", data, pos)[0]


# --- fragments -----------------------------------------------------------------------------------


def _fragments(fh: BinaryIO, header: _Header, name: str, boxes: list[Box], after: int) -> list[Fragment]:
    """Every moof of a file with the mdat right after it. `after`: where the first starts if its
    tfdt does not say (each next one starts where the one before ends)."""
    found: list[Fragment] = []
    for i, box in enumerate(boxes):
        if box[0] == b"moof":
            following = boxes[i + 1] if i + 1 < len(boxes) else None
            start = found[-1].start + found[-1].duration if found else after
            found.append(_fragment(fh, header, name, box, following, start))
    return found


def _fragment(fh: BinaryIO, header: _Header, name: str, moof: Box, mdat: Box | None, after: int) -> Fragment:
    """The fragment of `moof` and the `mdat` right after it, which must hold all its samples."""
    _, moof_pos, head, size = moof
    if mdat is None or mdat[0] != b"mdat":
        raise ValueError("a moof without its mdat")
    data = _payload(fh, moof_pos, head, size)
    trafs = [(s, e) for kind, s, e in _boxes(data, 0, len(data)) if kind == b"traf"]
    if len(trafs) != 1:
        raise ValueError(f"{len(trafs)} track fragments in one moof")
    start, end = trafs[0]
    base, defaults = _tfhd(data, *_find(data, start, end, b"tfhd"), header, moof_pos)
    decode_time = after
    data_offset = None
    samples: list[Sample] = []
    for kind, s, _ in _boxes(data, start, end):
        if kind == b"tfdt":
            decode_time = struct.unpack_from(">Q" if data[s] == 1 else ">I", data, s + 4)[0]
        elif kind == b"trun":
            # A run without a data offset follows the previous one (or starts at the base).
            run_end = base if data_offset is None else data_offset + sum(x.size for x in samples)
            run_offset, run = _trun(data, s, defaults)
            run_start = base + run_offset if run_offset is not None else run_end
            if data_offset is not None and run_start != run_end:
                raise ValueError("a fragment's runs are not one after another")
            data_offset = run_start if data_offset is None else data_offset
            samples.extend(run)
    _, mdat_pos, mdat_head, mdat_size = mdat
    if data_offset is None or not samples:
        raise ValueError("a fragment without samples")
    if data_offset < mdat_pos + mdat_head or data_offset + sum(x.size for x in samples) > mdat_pos + mdat_size:
        raise ValueError("a fragment's samples are not in its mdat")
    return Fragment(
        file=name,
        offset=moof_pos,
        size=mdat_pos + mdat_size - moof_pos,
        data_offset=data_offset,
        start=decode_time,
        duration=sum(x.duration for x in samples),
        samples=tuple(samples),
    )


def _tfhd(data: bytes, start: int, end: int, header: _Header, moof_pos: int) -> tuple[int, tuple[int, int, int]]:
    """(base data offset, (default duration, size, flags)) of a track fragment. Without an
    explicit base, offsets count from the moof (default-base-is-moof, or the first traf's rule)."""
    flags = int.from_bytes(data[start + 1 : start + 4], "big")
    if _u32(data, start + 4) != header.track_id:
        raise ValueError("a fragment of another track")
    pos, base = start + 8, moof_pos
    if flags & _BASE_DATA_OFFSET:
        base = struct.unpack_from(">Q", data, pos)[0]
        pos += 8
    if flags & _DESCRIPTION_INDEX:
        pos += 4
    defaults = [header.default_duration, header.default_size, header.default_flags]
    for i, bit in enumerate((_DEFAULT_DURATION, _DEFAULT_SIZE, _DEFAULT_FLAGS)):
        if flags & bit:
            defaults[i] = _u32(data, pos)
            pos += 4
    if pos > end:
        raise ValueError("short tfhd")
    return base, (defaults[0], defaults[1], defaults[2])


def _trun(data: bytes, start: int, defaults: tuple[int, int, int]) -> tuple[int | None, list[Sample]]:
    """(data offset from the base or None, samples) of a track run. Version 1 has signed
    composition offsets (ffmpeg writes it into single files), version 0 unsigned (its segments)."""
    version, flags = data[start], int.from_bytes(data[start + 1 : start + 4], "big")
    count = _u32(data, start + 4)
    pos, data_offset, first_flags = start + 8, None, None
    if flags & _DATA_OFFSET:
        data_offset = struct.unpack_from(">i", data, pos)[0]
        pos += 4
    if flags & _FIRST_FLAGS:
        first_flags = _u32(data, pos)
        pos += 4
    present = [bit for bit in (_DURATION, _SIZE, _FLAGS, _CTO) if flags & bit]
    codes = "".join("i" if bit == _CTO and version == 1 else "I" for bit in present)
    row = struct.Struct(">" + codes) if codes else None
    samples = []
    for i in range(count):
        values = dict(zip(present, row.unpack_from(data, pos + i * row.size), strict=True)) if row else {}
        sample_flags = values.get(_FLAGS, first_flags if i == 0 and first_flags is not None else defaults[2])
        samples.append(
            Sample(
                size=values.get(_SIZE, defaults[1]),
                duration=values.get(_DURATION, defaults[0]),
                cto=values.get(_CTO, 0),
                sync=not sample_flags & _NON_SYNC,
            )
        )
    return data_offset, samples


def _index(header: _Header, init_file: str, fragments: list[Fragment]) -> TrackIndex:
    if not fragments:
        raise ValueError("no fragments")
    return TrackIndex(
        handler=header.handler,
        init_file=init_file,
        init_size=header.init_size,
        timescale=header.timescale,
        codec=header.codec,
        width=header.width,
        height=header.height,
        sample_rate=header.sample_rate,
        channels=header.channels,
        fragments=tuple(fragments),
    )


# --- JSON ----------------------------------------------------------------------------------------


def _fragment_json(fragment: Fragment) -> dict[str, Any]:
    samples = fragment.samples
    durations = [s.duration for s in samples]
    data: dict[str, Any] = {
        "file": fragment.file,
        "offset": fragment.offset,
        "size": fragment.size,
        "data_offset": fragment.data_offset,
        "start": fragment.start,
        "sizes": [s.size for s in samples],
        "durations": durations[0] if len(set(durations)) == 1 else durations,
        "sync": [i for i, s in enumerate(samples) if s.sync],
    }
    if any(s.cto for s in samples):
        data["ctos"] = [s.cto for s in samples]
    return data


def _fragment_from_json(data: dict[str, Any]) -> Fragment:
    sizes = data["sizes"]
    durations = data["durations"]
    if isinstance(durations, int):
        durations = [durations] * len(sizes)
    ctos = data.get("ctos") or [0] * len(sizes)
    sync = set(data["sync"])
    samples = tuple(
        Sample(size=size, duration=duration, cto=cto, sync=i in sync)
        for i, (size, duration, cto) in enumerate(zip(sizes, durations, ctos, strict=True))
    )
    return Fragment(
        file=data["file"],
        offset=data["offset"],
        size=data["size"],
        data_offset=data["data_offset"],
        start=data["start"],
        duration=sum(durations),
        samples=samples,
    )
