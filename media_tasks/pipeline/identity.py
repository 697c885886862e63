"""What a stream is: one value (track kind, rung, codec, container) that the planner, the encode,
storage keys, the manifests, the presenters and the API all name a stream by, as Wagtail's
`Filter` spec names a rendition. Its file names are derived from it here and nowhere else, so a
new kind of track (captions, a second codec) is a new value, not an edit in five places.

A stream's files live in its own directory of the asset's stream area (`hls/<asset>/`):
`video/720p-h264/…`, `audio/128k-aac/…`. Either one CMAF file addressed by byte ranges
(`<dir>/<slug>.mp4`) or, for a stream published while it is encoded, an init segment and
media segments (`<dir>/init.mp4`, `<dir>/seg_00000.m4s`, …). Either way its HLS media
playlist is `<dir>/index.m3u8`, and its download plan (video only) `<dir>/download.json`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

MASTER = "master.m3u8"  # the HLS master playlist, at the top of the stream area
MPD = "manifest.mpd"  # the DASH manifest, beside it
PLAYLIST = "index.m3u8"  # each stream's media playlist, in its directory
INIT = "init.mp4"  # a segmented stream's initialisation segment
SEGMENT_PATTERN = "seg_%05d.m4s"  # a segmented stream's media segments (ffmpeg's numbering)
DOWNLOAD_PLAN = "download.json"  # how a video stream's MP4 download is put together


class TrackKind(enum.StrEnum):
    VIDEO = "video"
    AUDIO = "audio"


# Each track kind's codec and the rendition row's kind name it is recorded under.
_CODECS = {TrackKind.VIDEO: "h264", TrackKind.AUDIO: "aac"}
_NAME = re.compile(r"^(video|audio)/(\d+[pk])-([a-z0-9]+)$")


@dataclass(frozen=True)
class Stream:
    """One stream of an asset's ladder: `Stream(VIDEO, "720p")` is the 720p H.264 picture,
    `Stream(AUDIO, "128k")` the AAC sound at 128 kb/s. `rung` is what the API shows as a
    rendition's `profile`."""

    kind: TrackKind
    rung: str
    codec: str = ""
    container: str = "cmaf"

    def __post_init__(self) -> None:
        if not self.codec:
            object.__setattr__(self, "codec", _CODECS[self.kind])

    @property
    def slug(self) -> str:
        return f"{self.rung}-{self.codec}"

    @property
    def directory(self) -> str:
        """The stream's directory in the stream area: `video/720p-h264`."""
        return f"{self.kind}/{self.slug}"

    @property
    def playlist(self) -> str:
        return f"{self.directory}/{PLAYLIST}"

    @property
    def single_file(self) -> str:
        """The stream as one CMAF file: `video/720p-h264/720p-h264.mp4`."""
        return f"{self.directory}/{self.slug}.mp4"

    @property
    def init(self) -> str:
        return f"{self.directory}/{INIT}"

    @property
    def download_plan(self) -> str:
        return f"{self.directory}/{DOWNLOAD_PLAN}"

    @property
    def download_name(self) -> str:
        """What a download of this stream is called after the title: `720p.mp4`, `128k.m4a`."""
        return f"{self.rung}.mp4" if self.kind == TrackKind.VIDEO else f"{self.rung}.m4a"

    @classmethod
    def parse(cls, directory: str) -> Stream:
        """The stream a directory name (`video/720p-h264`) names; ValueError for anything else."""
        match = _NAME.match(directory)
        if not match:
            raise ValueError(f"not a stream: {directory!r}")
        return cls(TrackKind(match[1]), match[2], match[3])


def video_stream(rung: str) -> Stream:
    """The picture of a ladder rung (`"720p"`)."""
    return Stream(TrackKind.VIDEO, rung)


def audio_stream(kbps: int) -> Stream:
    """The sound at `kbps`."""
    return Stream(TrackKind.AUDIO, f"{kbps}k")
