"""write_mpd: a static MPD over the CMAF streams that names every stream, adds up, and plays in
ffmpeg's DASH demuxer over HTTP (as a player fetches it: byte ranges of one file, or segment files)."""

from __future__ import annotations

import functools
import itertools
import json
import re
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from media_tasks.pipeline import dash
from media_tasks.pipeline.fmp4 import Fragment, Sample, TrackIndex
from media_tasks.pipeline.identity import MPD, video_stream
from tests.dash_media import SEGMENTED, SINGLE, SOUND, encode_streams, ladder

NS = {"d": dash.NAMESPACE}
FIELDS = ("-show_entries", "stream=codec_type,width,nb_read_frames:format=duration")


@pytest.fixture(scope="module")
def area(tmp_path_factory) -> Path:
    root = encode_streams(tmp_path_factory.mktemp("area"))
    videos, audio = ladder(root)
    (root / MPD).write_text(dash.write_mpd(videos, audio))
    return root


def parse(area: Path) -> ET.Element:
    return ET.fromstring((area / MPD).read_bytes())  # noqa: S314 (what write_mpd just wrote)


def seconds(duration: str) -> float:
    match = re.fullmatch(r"PT([\d.]+)S", duration)
    assert match, duration
    return float(match[1])


def test_the_mpd_is_static_and_names_every_stream(area):
    mpd = parse(area)
    assert mpd.get("type") == "static" and mpd.get("profiles") == dash.PROFILE
    assert seconds(mpd.get("minBufferTime")) == pytest.approx(2.0, abs=0.1)
    (period,) = mpd.findall("d:Period", NS)
    video, audio = period.findall("d:AdaptationSet", NS)
    assert (video.get("mimeType"), audio.get("mimeType")) == ("video/mp4", "audio/mp4")
    assert video.get("segmentAlignment") == "true" and audio.get("lang") == "und"
    assert video.get("startWithSAP") == audio.get("startWithSAP") == "1"  # every fragment opens on a keyframe
    reps = {r.get("id"): r for r in period.iter(f"{{{dash.NAMESPACE}}}Representation")}
    assert set(reps) == {SINGLE.slug, SEGMENTED.slug, SOUND.slug}
    single, segmented, sound = reps[SINGLE.slug], reps[SEGMENTED.slug], reps[SOUND.slug]
    assert (single.get("width"), single.get("height"), single.get("frameRate")) == ("320", "180", "25")
    assert (segmented.get("width"), segmented.get("height")) == ("256", "144")
    assert single.get("codecs").startswith("avc1.") and sound.get("codecs") == "mp4a.40.2"
    assert sound.get("audioSamplingRate") == "48000"
    assert sound.find("d:AudioChannelConfiguration", NS).get("value") == "2"
    for stream, rep in ((SINGLE, single), (SEGMENTED, segmented), (SOUND, sound)):
        assert rep.find("d:BaseURL", NS).text == f"{stream.directory}/"
        assert int(rep.get("bandwidth")) > 0


def test_addressing_one_file_by_byte_ranges_and_segments_by_name(area):
    mpd = parse(area)
    reps = {r.get("id"): r for r in mpd.iter(f"{{{dash.NAMESPACE}}}Representation")}
    single = reps[SINGLE.slug].find("d:SegmentList", NS)
    init = single.find("d:Initialization", NS)
    data = (area / SINGLE.single_file).read_bytes()
    assert init.get("sourceURL") == Path(SINGLE.single_file).name
    start, end = map(int, init.get("range").split("-"))
    assert (
        start == 0 and data[4:8] == b"ftyp" and data[end + 5 : end + 9] == b"moof"
    )  # init ends where the first moof starts
    ranges = [tuple(map(int, u.get("mediaRange").split("-"))) for u in single.findall("d:SegmentURL", NS)]
    assert ranges[0][0] == end + 1 and ranges[-1][1] <= len(data) - 1
    assert all(b == a + 1 for (_, a), (b, _) in itertools.pairwise(ranges))  # back to back
    assert all(data[a + 4 : a + 8] == b"moof" for a, _ in ranges)
    segmented = reps[SEGMENTED.slug].find("d:SegmentList", NS)
    assert segmented.find("d:Initialization", NS).attrib == {"sourceURL": "init.mp4"}
    names = [u.get("media") for u in segmented.findall("d:SegmentURL", NS)]
    assert names == sorted(p.name for p in (area / SEGMENTED.directory).glob("seg_*.m4s"))
    assert all("mediaRange" not in u.attrib for u in segmented.findall("d:SegmentURL", NS))


def test_the_durations_add_up(area):
    mpd = parse(area)
    total = seconds(mpd.get("mediaPresentationDuration"))
    assert total == pytest.approx(5.0, abs=0.1)
    for rep in mpd.iter(f"{{{dash.NAMESPACE}}}Representation"):
        segments = rep.find("d:SegmentList", NS)
        timescale = int(segments.get("timescale"))
        timeline = segments.findall("d:SegmentTimeline/d:S", NS)
        assert len(timeline) == len(segments.findall("d:SegmentURL", NS)), rep.get("id")
        assert int(timeline[0].get("t")) == 0
        assert all("t" not in s.attrib for s in timeline[1:])  # no gaps: each follows the last
        length = sum(int(s.get("d")) for s in timeline) / timescale
        assert length == pytest.approx(total, abs=0.05), rep.get("id")
        if rep.get("mimeType") != "audio/mp4" and rep.get("width"):
            # The picture's fragments: 1 s (the first keyframe interval), then 2 s each.
            assert [int(s.get("d")) / timescale for s in timeline][:2] == [1.0, 2.0]


def test_bandwidth_ignores_a_short_last_fragment_that_the_peak_would_not():
    """A 0.04 s last fragment holding a keyframe is 'expensive' per second; DASH's @bandwidth with a
    2 s buffer is not moved by it, where the peak fragment rate would be."""
    fragments = [Fragment("a.mp4", 0, 250_000, 0, i * 2000, 2000, ()) for i in range(5)]
    fragments.append(Fragment("a.mp4", 0, 40_000, 0, 10_000, 40, ()))
    index = TrackIndex("vide", "a.mp4", 700, 1000, "avc1.640028", 640, 360, 0, 0, tuple(fragments))
    assert dash.bandwidth(index, 2.0) == pytest.approx(1_000_000, rel=0.05)  # 250 kB per 2 s
    assert max(f.size * 8 * 1000 / f.duration for f in fragments) == 8_000_000


def test_rungs_cut_at_different_instants_are_not_called_aligned():
    """One rung cut at every keyframe (1 s apart), another every 2 s: a player must not switch
    between them as if their fragments lined up."""
    sample = (Sample(100, 1000, 0, True),)

    def rung(height: int, every: int) -> TrackIndex:
        fragments = tuple(Fragment("v.mp4", 0, 100, 0, t, every, sample) for t in range(0, 4000, every))
        return TrackIndex("vide", "v.mp4", 700, 1000, "avc1.640028", height * 16 // 9, height, 0, 0, fragments)

    def video_set(*rungs: TrackIndex) -> ET.Element:
        mpd = ET.fromstring(dash.write_mpd([(video_stream(f"{r.height}p"), r) for r in rungs], None))  # noqa: S314
        return mpd.find("d:Period/d:AdaptationSet", NS)

    assert video_set(rung(360, 2000), rung(720, 2000)).get("segmentAlignment") == "true"
    assert video_set(rung(360, 2000), rung(720, 1000)).get("segmentAlignment") is None
    assert video_set(rung(360, 1000)).get("startWithSAP") == "1"


def test_no_stream_or_an_empty_stream_is_refused():
    empty = TrackIndex("vide", "init.mp4", 700, 1000, "avc1.640028", 640, 360, 0, 0, ())
    with pytest.raises(ValueError):
        dash.write_mpd([], None)
    with pytest.raises(ValueError):
        dash.write_mpd([(video_stream("360p"), empty)], None)


class _Ranges(SimpleHTTPRequestHandler):
    """Static files with Range (206), as our play view and S3 answer; http.server alone has none."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if not match or not path.is_file():
            return super().do_GET()
        data, (first, last) = path.read_bytes(), (int(match[1]), int(match[2]))
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
        self.send_header("Content-Length", str(last - first + 1))
        self.end_headers()
        self.wfile.write(data[first : last + 1])


def test_ffmpeg_reads_every_stream_of_the_mpd_over_http(area):
    """Over HTTP: ffmpeg 5.1's DASH demuxer asks for byte ranges through HTTP's options only, so a
    local path would read each range from the file's start. (Given one, it spins and ignores SIGTERM.)"""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Ranges, directory=str(area)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{MPD}"
        done = subprocess.run(
            [*("timeout", "-s", "KILL", "60", "ffprobe", "-v", "error", "-of", "json", "-count_frames"), *FIELDS, url],
            capture_output=True,
            text=True,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr[-800:]
    info = json.loads(done.stdout)
    frames = {(s["codec_type"], s.get("width")): int(s["nb_read_frames"]) for s in info["streams"]}
    assert frames[("video", 320)] == frames[("video", 256)] == 125  # 5 s at 25 fps, every fragment
    assert frames[("audio", None)] >= 234  # 5 s of 1024-sample AAC frames at 48 kHz
    assert float(info["format"]["duration"]) == pytest.approx(5.0, abs=0.1)


def test_caption_tracks_are_text_sets_that_replace_those_named_before(area):
    written = (area / MPD).read_text()
    tracks = [
        dash.TextTrack("en", "English", "captions/en.vtt"),
        dash.TextTrack("fr-CA", "Français", "captions/fr.vtt"),
    ]
    mpd = ET.fromstring(dash.with_text_tracks(written, tracks))  # noqa: S314
    sets = mpd.findall("d:Period/d:AdaptationSet", NS)
    text = [s for s in sets if s.get("contentType") == "text"]
    assert [(s.get("lang"), s.get("mimeType"), s.find("d:Label", NS).text) for s in text] == [
        ("en", "text/vtt", "English"),
        ("fr-CA", "text/vtt", "Français"),
    ]
    assert [s.find("d:Representation/d:BaseURL", NS).text for s in text] == ["captions/en.vtt", "captions/fr.vtt"]
    assert [s.find("d:Role", NS).get("value") for s in text] == ["subtitle", "subtitle"]
    assert len({s.get("id") for s in sets}) == len(sets) and all(s.get("id").isdigit() for s in sets)
    once = dash.with_text_tracks(dash.with_text_tracks(written, tracks), tracks[1:])
    assert once.count('contentType="text"') == 1 and 'lang="en"' not in once
    assert dash.with_text_tracks(once, []) == written
