"""Caption tracks (issue 31): an uploaded SubRip (SRT) or WebVTT file, checked and turned into the
WebVTT that HLS and DASH players read, or refused with a message that says where it is broken.

webvtt-py (https://github.com/glut23/webvtt-py) parses both formats. Its SRT reader takes a block
that does not start a cue as more text of the cue before it, so a mistyped timing line would be
shown to viewers as a caption: here every block of an SRT file must be a cue. WebVTT is read
strictly (a malformed cue block is an error, not skipped)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import langcodes
import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from .exceptions import InvalidCaptions, MediaLimitError

# A feature film's captions are about 100 kB; this leaves room for many tracks' worth of styling.
MAX_CAPTION_BYTES = 2 * 1024 * 1024
_SRT_TIMING = re.compile(r"^\s*\d+:\d{1,2}:\d{1,2}[,.]\d{1,3}\s*-->\s*\d+:\d{1,2}:\d{1,2}[,.]\d{1,3}")
_QUOTED = 60  # characters of a broken line quoted back
MAX_TAG_LENGTH = 35  # BCP 47 advises room for 35 characters (RFC 5646, 4.4.1)


@dataclass(frozen=True)
class Captions:
    vtt: str  # the track as WebVTT, UTF-8 when encoded
    cues: int
    end_s: float  # when the last cue ends


def to_webvtt(data: bytes, *, max_bytes: int = MAX_CAPTION_BYTES) -> Captions:
    """The caption file `data` (SRT or WebVTT, told apart by content) as WebVTT.

    Raises MediaLimitError over `max_bytes`, and InvalidCaptions for anything a player could not
    show as it was meant: text that is not UTF-8, a broken cue, a cue that ends before it starts,
    or no cue at all."""
    if len(data) > max_bytes:
        raise MediaLimitError(f"The caption file is {len(data):,} bytes; at most {max_bytes:,} are accepted.")
    text = _decode(data)
    kind = "vtt" if text.startswith("WEBVTT") else "srt"
    if kind == "srt":
        _check_srt_blocks(text)
    try:
        track = webvtt.WebVTT.from_buffer(io.StringIO(text), format=kind, strict=True)
    except MalformedFileError as exc:
        raise InvalidCaptions(
            "This is neither a SubRip (SRT) file, which starts with a cue number and its timing,"
            " nor a WebVTT file, which starts with the line WEBVTT."
        ) from exc
    except MalformedCaptionError as exc:
        raise InvalidCaptions(f"A cue in this WebVTT file is broken: {exc}.") from exc
    if not track.captions:
        raise InvalidCaptions("The caption file has no cues.")
    for number, cue in enumerate(track.captions, start=1):
        if cue.end_time.in_milliseconds() <= cue.start_time.in_milliseconds():
            raise InvalidCaptions(f"Cue {number} ({cue.start} --> {cue.end}) ends before it starts.")
    end_ms = max(cue.end_time.in_milliseconds() for cue in track.captions)
    return Captions(vtt=track.content, cues=len(track.captions), end_s=end_ms / 1000)


def language_tag(value: str) -> str:
    """`value` as a registered BCP 47 tag in its normal form ('EN_gb' -> 'en-GB'; langcodes checks
    every subtag against the IANA registry), or InvalidCaptions saying what is expected."""
    text = value.strip()
    try:
        valid = bool(text) and langcodes.tag_is_valid(text) and text.lower() != "und"
        tag = langcodes.Language.get(text).to_tag() if valid else ""
    except (langcodes.tag_parser.LanguageTagError, ValueError):
        tag = ""
    if not tag or len(tag) > MAX_TAG_LENGTH:
        raise InvalidCaptions(f"'{text[:_QUOTED]}' is not a language code (BCP 47), such as en, en-GB or pt-BR.")
    return tag


def _decode(data: bytes) -> str:
    """UTF-8 text without its byte-order mark; anything else is refused with where it broke."""
    if b"\x00" in data:
        raise InvalidCaptions("Caption files must be UTF-8 text; this one holds NUL bytes (UTF-16, or not text).")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidCaptions(
            f"Caption files must be UTF-8 text; byte 0x{data[exc.start]:02X} at position {exc.start}"
            " is not (the file may be saved as Latin-1 or Windows-1252). Save it as UTF-8 and upload it again."
        ) from exc
    return text.removeprefix("\ufeff")


def _check_srt_blocks(text: str) -> None:
    """Every block of an SRT file is a cue: an optional number, then its timing line."""
    lines = text.splitlines()
    start = None
    for number, line in enumerate([*lines, ""], start=1):
        if line.strip() and start is None:
            start = number
        elif not line.strip() and start is not None:
            block = lines[start - 1 : number - 1]
            timing_at = 1 if block[0].strip().isdigit() and len(block) > 1 else 0
            if not _SRT_TIMING.match(block[timing_at]):
                quoted = block[timing_at].strip()[:_QUOTED]
                raise InvalidCaptions(
                    f"Line {start + timing_at}: expected a cue's timing, such as"
                    f" 00:00:01,000 --> 00:00:02,500, and found '{quoted}'."
                )
            start = None
