"""The DASH manifest of an asset's streams: a static MPD over the same CMAF files the HLS names.

Every stream is addressed the same way, whether it is one CMAF file or an init segment and
segment files: a `SegmentList` whose `Initialization` and `SegmentURL`s name the file (and the
byte range, for one file) of the init and of each fragment, with a `SegmentTimeline` giving each
fragment's start and duration. That is the one addressing that fits both storage shapes without
an index box: `SegmentBase` needs a `sidx` (our single files have none), `SegmentTemplate` needs
numbered files (our single files are one). dash.js and Shaka Player both play it (dash.js since
2.2: SegmentTimeline inside SegmentList; Initialization@range since 1.x). The profile is
ISO BMFF main, the one that allows SegmentList with byte ranges.

URLs are relative to the MPD, which sits at the top of the stream area beside the HLS master:
a Representation's `BaseURL` is its stream's directory (`video/720p-h264/`).

Caption tracks are added to and taken from a written MPD alone (with_text_tracks): each is an
AdaptationSet of one WebVTT file, which dash.js and Shaka Player load whole.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from xml.etree import ElementTree as ET

from .fmp4 import TrackIndex
from .identity import Stream

NAMESPACE = "urn:mpeg:dash:schema:mpd:2011"
PROFILE = "urn:mpeg:dash:profile:isoff-main:2011"
CHANNELS_SCHEME = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
ROLE_SCHEME = "urn:mpeg:dash:role:2011"
WINDOW = 128  # fragments: the longest stretch `bandwidth` measures (about 4 minutes of 2 s fragments)


def write_mpd(videos: Sequence[tuple[Stream, TrackIndex]], audio: tuple[Stream, TrackIndex] | None) -> str:
    """The static MPD naming every video stream (one AdaptationSet, a Representation each) and
    the sound (its own AdaptationSet): a sound alone has that one. ValueError when there is no
    stream or one has no fragment."""
    if not videos and audio is None:
        raise ValueError("an MPD needs at least one stream")
    streams = [*videos, *([audio] if audio else [])]
    for stream, index in streams:
        if not index.fragments or not index.timescale:
            raise ValueError(f"{stream.slug}: no fragments to name")
    min_buffer = max(f.duration / i.timescale for _, i in streams for f in i.fragments)
    mpd = ET.Element(
        "MPD",
        xmlns=NAMESPACE,
        type="static",
        profiles=PROFILE,
        minBufferTime=_duration(min_buffer),
        mediaPresentationDuration=_duration(max(i.duration_s for _, i in streams)),
    )
    period = ET.SubElement(mpd, "Period", id="0", start="PT0S")
    if videos:
        _video_set(period, videos, min_buffer)
    if audio:
        stream, index = audio
        audio_set = ET.SubElement(
            period,
            "AdaptationSet",
            id="1",
            contentType="audio",
            mimeType="audio/mp4",
            lang="und",
            **_switching([index]),
        )
        ET.SubElement(audio_set, "Role", schemeIdUri=ROLE_SCHEME, value="main")
        channels = ET.Element("AudioChannelConfiguration", schemeIdUri=CHANNELS_SCHEME, value=str(index.channels))
        _representation(audio_set, stream, index, min_buffer, [channels], audioSamplingRate=str(index.sample_rate))
    ET.indent(mpd)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(mpd, encoding="unicode") + "\n"


@dataclass(frozen=True)
class TextTrack:
    """A caption track as the MPD names it."""

    language: str  # a BCP-47 tag: @lang
    label: str  # what a player's menu shows
    url: str  # its WebVTT file, relative to the MPD


def with_text_tracks(mpd: str, tracks: Sequence[TextTrack]) -> str:
    """The MPD `mpd` (as write_mpd wrote it) naming `tracks`, each as a text AdaptationSet, in
    place of any it named before: adding or deleting a track rewrites the MPD alone."""
    ET.register_namespace("", NAMESPACE)
    root = ET.fromstring(mpd)  # noqa: S314 (write_mpd's output, read back from our own storage)
    period = root.find(f"{{{NAMESPACE}}}Period")
    if period is None:
        raise ValueError("an MPD without a Period")
    sets = period.findall(f"{{{NAMESPACE}}}AdaptationSet")
    for text_set in (s for s in sets if s.get("contentType") == "text"):
        period.remove(text_set)
    next_id = 1 + max((int(s.get("id", "0")) for s in sets if s.get("contentType") != "text"), default=-1)
    for offset, track in enumerate(tracks):
        ns = f"{{{NAMESPACE}}}"
        text_set = ET.SubElement(
            period, f"{ns}AdaptationSet", id=str(next_id + offset), contentType="text", mimeType="text/vtt"
        )
        text_set.set("lang", track.language)
        ET.SubElement(text_set, f"{ns}Label").text = track.label  # the schema puts Label before Role
        ET.SubElement(text_set, f"{ns}Role", schemeIdUri=ROLE_SCHEME, value="subtitle")
        representation = ET.SubElement(text_set, f"{ns}Representation", id=f"text-{track.language}", bandwidth="256")
        ET.SubElement(representation, f"{ns}BaseURL").text = track.url
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _video_set(period: ET.Element, videos: Sequence[tuple[Stream, TrackIndex]], min_buffer: float) -> None:
    video_set = ET.SubElement(
        period,
        "AdaptationSet",
        id="0",
        contentType="video",
        mimeType="video/mp4",
        maxWidth=str(max(i.width for _, i in videos)),
        maxHeight=str(max(i.height for _, i in videos)),
        **_switching([i for _, i in videos]),
    )
    # Highest first, as the HLS master lists them (players order them by bandwidth themselves).
    for stream, index in sorted(videos, key=lambda v: -v[1].height):
        rate = {"frameRate": rate} if (rate := frame_rate(index)) else {}
        _representation(video_set, stream, index, min_buffer, width=str(index.width), height=str(index.height), **rate)


def _switching(indexes: Sequence[TrackIndex]) -> dict[str, str]:
    """What an AdaptationSet promises a player that switches rungs, only where the fragments bear it
    out: every rung's fragments start at the same instants (forced keyframes make them so, but a
    rung cut by the HLS muxer and one cut at every keyframe may part ways), each on a sync sample."""
    promises = {}
    if len({tuple(Fraction(f.start, i.timescale) for f in i.fragments) for i in indexes}) == 1:
        promises["segmentAlignment"] = "true"
    if all(f.samples and f.samples[0].sync for i in indexes for f in i.fragments):
        promises["startWithSAP"] = "1"
    return promises


def _representation(
    parent: ET.Element,
    stream: Stream,
    index: TrackIndex,
    min_buffer_s: float,
    descriptors: Sequence[ET.Element] = (),
    **attrs: str,
) -> None:
    rep = ET.SubElement(
        parent, "Representation", id=stream.slug, bandwidth=str(bandwidth(index, min_buffer_s)), codecs=index.codec
    )
    rep.attrib.update(attrs)
    rep.extend(descriptors)  # the schema's order: descriptors (AudioChannelConfiguration) before BaseURL
    ET.SubElement(rep, "BaseURL").text = f"{stream.directory}/"
    _segment_list(rep, index)


def _segment_list(rep: ET.Element, index: TrackIndex) -> None:
    first = index.fragments[0].start
    # The timeline counts from the first fragment's decode time; presentationTimeOffset maps it to
    # the period's 0, so a track whose first tfdt is not 0 still starts at the start.
    segments = ET.SubElement(rep, "SegmentList", timescale=str(index.timescale))
    if first:
        segments.set("presentationTimeOffset", str(first))
    init = ET.SubElement(segments, "Initialization", sourceURL=index.init_file)
    if index.single_file:
        init.set("range", f"0-{index.init_size - 1}")
    timeline = ET.SubElement(segments, "SegmentTimeline")
    expected = None
    for fragment in index.fragments:
        # t only where the timeline does not simply continue (the first, or after a gap).
        start = {"t": str(fragment.start)} if fragment.start != expected else {}
        ET.SubElement(timeline, "S", **start, d=str(fragment.duration))
        expected = fragment.start + fragment.duration
    for fragment in index.fragments:
        url = ET.SubElement(segments, "SegmentURL", media=fragment.file)
        if index.single_file:
            url.set("mediaRange", f"{fragment.offset}-{fragment.offset + fragment.size - 1}")


def bandwidth(index: TrackIndex, min_buffer_s: float) -> int:
    """@bandwidth as DASH defines it, the peak rate the stream needs: the least bits/s at which,
    starting at any fragment with `min_buffer_s` of lead, every later fragment has arrived by the
    time it is due. Unlike the peak of single fragments, a short last fragment (a few frames, a
    keyframe among them) does not make the rung look far dearer than it is (HLS's BANDWIDTH, the
    peak fragment, does). Windows of up to WINDOW fragments: over minutes the rate a window asks
    for is close to the stream's average, which the shorter windows already bound."""
    scale = index.timescale
    fragments = index.fragments
    peak = 0.0
    for j, first in enumerate(fragments):
        bits = 0
        for fragment in fragments[j : j + WINDOW]:
            bits += fragment.size * 8
            peak = max(peak, bits / (min_buffer_s + (fragment.start - first.start) / scale))
    return max(1, math.ceil(peak))


def frame_rate(index: TrackIndex) -> str | None:
    """@frameRate from the samples' durations when (nearly) all are the same: "25", "30000/1001";
    None for sound or a variable frame rate."""
    durations = Counter(s.duration for f in index.fragments for s in f.samples)
    if not durations or not index.width:
        return None
    duration, count = durations.most_common(1)[0]
    if duration <= 0 or count < 0.9 * sum(durations.values()):
        return None
    rate = Fraction(index.timescale, duration)
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def _duration(seconds: float) -> str:
    """xs:duration, to the millisecond: PT12.345S."""
    return f"PT{seconds:.3f}S"
