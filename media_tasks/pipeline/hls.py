"""HLS over CMAF streams (identity.py's layout): each stream's media playlist, made from its
fragment index (fmp4.py), and the master that names every picture with the one sound as an
`EXT-X-MEDIA` audio group (HLS version 7: `EXT-X-MAP` init sections, byte ranges into one file).

The streams published while they are encoded (the lead picture, the sound) get their playlists
from ffmpeg's hls muxer, an EVENT playlist that grows: early_master names them then, and
playlist_segments / finalize_vod read and close them. At the end every stream's playlist is
written here, from what was measured.

Caption tracks (captions.py) are added to and taken from the master alone (with_subtitles), each a
WebVTT file behind a one-segment playlist (subtitles_playlist): no stream is touched."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .fmp4 import TrackIndex, bandwidth
from .identity import PLAYLIST, Stream
from .video import Rung

__all__ = [
    "ENDLIST",
    "EVENT_TYPE",
    "PLAYLIST",
    "VOD_TYPE",
    "SubtitleTrack",
    "early_master",
    "finalize_vod",
    "master_playlist",
    "media_playlist",
    "playlist_segments",
    "subtitles_playlist",
    "with_subtitles",
]

EVENT_TYPE = "#EXT-X-PLAYLIST-TYPE:EVENT"
VOD_TYPE = "#EXT-X-PLAYLIST-TYPE:VOD"
ENDLIST = "#EXT-X-ENDLIST"
# EXT-X-MAP with a segmented stream, and EXT-X-BYTERANGE with an init section, need version 6
# and 5; 7 is what ffmpeg's fMP4 playlists say, and the issue asks for it.
_HEAD = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
AUDIO_GROUP = "audio"
SUBTITLES_GROUP = "subs"
_SUBTITLES_MEDIA = "#EXT-X-MEDIA:TYPE=SUBTITLES,"
_SUBTITLES_ATTRIBUTE = f',SUBTITLES="{SUBTITLES_GROUP}"'


def media_playlist(index: TrackIndex) -> str:
    """A stream's VOD playlist, its URIs relative to the stream's directory: the init section
    (EXT-X-MAP) then every fragment, by byte range into one file or as its segment file."""
    timescale = index.timescale
    longest = max(f.duration for f in index.fragments)
    init = f'URI="{index.init_file}"'
    if index.single_file:
        init += f',BYTERANGE="{index.init_size}@0"'
    lines = [
        # Whole seconds, rounded up in integers: 2.005333 s of sound is 3, 2.000000 of picture 2.
        *_vod_head(-(-longest // timescale)),
        "#EXT-X-INDEPENDENT-SEGMENTS",
        f"#EXT-X-MAP:{init}",
    ]
    for fragment in index.fragments:
        lines.append(f"#EXTINF:{fragment.duration / timescale:.6f},")
        if index.single_file:
            lines.append(f"#EXT-X-BYTERANGE:{fragment.size}@{fragment.offset}")
        lines.append(fragment.file)
    lines.append(ENDLIST)
    return "\n".join(lines) + "\n"


def master_playlist(videos: Sequence[tuple[Stream, TrackIndex]], audio: tuple[Stream, TrackIndex] | None) -> str:
    """The master over the pictures (largest first, as given), each played with the sound when
    there is one. A variant's rates are its picture's plus the sound's, as a player fetches both.
    With no picture (a sound alone), the sound's playlist is the one variant."""
    lines = list(_HEAD)
    if not videos and audio is not None:
        stream, index = audio
        peak, average = bandwidth(index)
        attributes = [f"BANDWIDTH={peak}", f"AVERAGE-BANDWIDTH={average}", f'CODECS="{index.codec}"']
        return "\n".join([*lines, "#EXT-X-STREAM-INF:" + ",".join(attributes), stream.playlist]) + "\n"
    sound_peak = sound_average = 0
    if audio is not None:
        stream, index = audio
        sound_peak, sound_average = bandwidth(index)
        lines.append(_audio_media(stream, index.channels))
    for stream, index in videos:
        peak, average = bandwidth(index)
        codecs = index.codec if audio is None else f"{index.codec},{audio[1].codec}"
        attributes = [
            f"BANDWIDTH={peak + sound_peak}",
            f"AVERAGE-BANDWIDTH={average + sound_average}",
            f"RESOLUTION={index.width}x{index.height}",
            f'CODECS="{codecs}"',
        ]
        if audio is not None:
            attributes.append(f'AUDIO="{AUDIO_GROUP}"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attributes), stream.playlist]
    return "\n".join(lines) + "\n"


def early_master(videos: Sequence[tuple[Stream, Rung]], audio: Stream | None) -> str:
    """The master while the streams are encoded: their sizes and their peak rates as planned
    (the measured rates and the codecs' profiles are known only at the end, and written then)."""
    lines = list(_HEAD)
    sound_kbps = 0
    if audio is not None:
        sound_kbps = int(audio.rung.removesuffix("k"))
        if not videos:  # a sound alone: its playlist is the variant (AAC-LC: video.AAC_OPTIONS)
            variant = f'#EXT-X-STREAM-INF:BANDWIDTH={sound_kbps * 1000},CODECS="mp4a.40.2"'
            return "\n".join([*lines, variant, audio.playlist]) + "\n"
        lines.append(_audio_media(audio, 2))  # the ladder's sound is stereo (video.AAC_OPTIONS)
    for stream, rung in videos:
        attributes = [f"BANDWIDTH={(rung.maxrate_kbps + sound_kbps) * 1000}", f"RESOLUTION={rung.width}x{rung.height}"]
        if audio is not None:
            attributes.append(f'AUDIO="{AUDIO_GROUP}"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attributes), stream.playlist]
    return "\n".join(lines) + "\n"


def _audio_media(stream: Stream, channels: int) -> str:
    # No LANGUAGE: the upload does not say what language its sound is in.
    return (
        f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="Sound",DEFAULT=YES,AUTOSELECT=YES,'
        f'CHANNELS="{channels}",URI="{stream.playlist}"'
    )


def finalize_vod(playlist: Path) -> None:
    """Make a finished EVENT playlist a VOD one: the same segments, and a player that loaded it
    while it grew reads the end (#EXT-X-ENDLIST) and stops reloading."""
    text = playlist.read_text()
    if EVENT_TYPE in text:
        playlist.write_text(text.replace(EVENT_TYPE, VOD_TYPE))


def playlist_segments(text: str) -> list[str]:
    """The segments a stream's playlist names, in order. ffmpeg names a segment once it is closed,
    and replaces the playlist whole (hls_flags temp_file), so each of them is complete."""
    return [line for line in text.splitlines() if line and not line.startswith("#")]


@dataclass(frozen=True)
class SubtitleTrack:
    """A caption track as the master names it."""

    language: str  # a BCP-47 tag: LANGUAGE
    label: str  # what a player's menu shows: NAME
    playlist: str  # its media playlist, relative to the master


def subtitles_playlist(vtt_name: str, duration_s: float) -> str:
    """A caption track's media playlist: its one WebVTT file as one segment that lasts the whole
    video. Its cue times are on the picture's clock, which starts at 0 in every stream of the ladder."""
    lines = [*_vod_head(max(1, math.ceil(duration_s))), f"#EXTINF:{duration_s:.6f},", vtt_name, ENDLIST]
    return "\n".join(lines) + "\n"


def _vod_head(target_duration: int) -> list[str]:
    """The first lines of a VOD media playlist whose longest segment lasts `target_duration` s at most."""
    return [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{target_duration}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        VOD_TYPE,
    ]


def with_subtitles(master: str, tracks: Sequence[SubtitleTrack]) -> str:
    """`master` naming `tracks` as one SUBTITLES group that every variant refers to, in place of any
    it named before: adding or deleting a track rewrites the master alone, never a stream."""
    lines = [line.replace(_SUBTITLES_ATTRIBUTE, "") for line in master.splitlines()]
    lines = [line for line in lines if not line.startswith(_SUBTITLES_MEDIA)]
    first_variant = next((i for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF:")), None)
    if not tracks or first_variant is None:
        return "\n".join(lines) + "\n"
    media = [_subtitles_media(track) for track in tracks]
    lines = lines[:first_variant] + media + lines[first_variant:]
    return (
        "\n".join(line + _SUBTITLES_ATTRIBUTE if line.startswith("#EXT-X-STREAM-INF:") else line for line in lines)
        + "\n"
    )


def _subtitles_media(track: SubtitleTrack) -> str:
    # A quoted string may hold neither a double quote nor a line break (RFC 8216, 4.2).
    name = " ".join(track.label.replace('"', "'").split()) or track.language
    return (
        f'{_SUBTITLES_MEDIA}GROUP-ID="{SUBTITLES_GROUP}",LANGUAGE="{track.language}",NAME="{name}",'
        f'DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="{track.playlist}"'
    )
