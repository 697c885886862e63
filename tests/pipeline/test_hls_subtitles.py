"""Caption tracks in the HLS master (pipeline/hls.py): named as one SUBTITLES group, replaced whole,
and read by a player's demuxer from the master alone."""

import subprocess
from pathlib import Path

from media_tasks.pipeline import hls
from media_tasks.pipeline.quality import vmaf_ffmpeg

MASTER = (
    "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Sound",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="a.m3u8"\n'
    '#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",AUDIO="audio"\n360.m3u8\n'
    '#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x180,CODECS="avc1.64000d,mp4a.40.2",AUDIO="audio"\n180.m3u8\n'
)
ENGLISH = hls.SubtitleTrack("en", "English", "captions/en.m3u8")
CANADIAN = hls.SubtitleTrack("fr-CA", 'Français "CA"\n', "captions/fr-CA.m3u8")


def test_every_variant_refers_to_the_one_group_that_names_each_track():
    master = hls.with_subtitles(MASTER, [ENGLISH, CANADIAN])
    lines = master.splitlines()
    media = [line for line in lines if line.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES,")]
    assert media == [
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="English",DEFAULT=NO,AUTOSELECT=YES,'
        'FORCED=NO,URI="captions/en.m3u8"',
        # A quoted string may hold neither a double quote nor a line break.
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="fr-CA",NAME="Français \'CA\'",DEFAULT=NO,'
        'AUTOSELECT=YES,FORCED=NO,URI="captions/fr-CA.m3u8"',
    ]
    variants = [line for line in lines if line.startswith("#EXT-X-STREAM-INF:")]
    assert len(variants) == 2 and all(line.endswith(',AUDIO="audio",SUBTITLES="subs"') for line in variants)
    assert lines.index(media[-1]) < lines.index(variants[0])


def test_the_tracks_replace_those_named_before_and_none_gives_back_the_master():
    twice = hls.with_subtitles(hls.with_subtitles(MASTER, [ENGLISH, CANADIAN]), [CANADIAN])
    assert twice.count("TYPE=SUBTITLES") == 1 and 'LANGUAGE="en"' not in twice
    assert twice.count('SUBTITLES="subs"') == 2
    assert hls.with_subtitles(twice, []) == MASTER


def test_a_player_reads_each_track_and_its_cues_from_the_master(tmp_path: Path):
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=4", "-c:v", "libx264"),
            *("-g", "30", "-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4", "-hls_playlist_type", "vod"),
            str(tmp_path / "180.m3u8"),
        ],
        check=True,
    )
    plain = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x180\n180.m3u8\n"
    (tmp_path / "master.m3u8").write_text(hls.with_subtitles(plain, [ENGLISH, CANADIAN]))
    (tmp_path / "captions").mkdir()
    for language in ("en", "fr-CA"):
        (tmp_path / "captions" / f"{language}.m3u8").write_text(hls.subtitles_playlist(f"{language}.vtt", 4.0))
        cue = f"WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHello in {language}\n"
        (tmp_path / "captions" / f"{language}.vtt").write_text(cue)
    # Debian 12's ffmpeg 5.1 skips subtitle renditions in HLS; the static 9.0.2 (VMAF's) reads them, as players do.
    master = str(tmp_path / "master.m3u8")
    listed = subprocess.run([vmaf_ffmpeg(), "-hide_banner", "-i", master], capture_output=True, text=True).stderr
    assert "(en): Subtitle: webvtt" in listed and "(fr-CA): Subtitle: webvtt" in listed, listed
    cues = subprocess.run(
        [vmaf_ffmpeg(), "-v", "error", "-i", master, "-map", "0:s:m:language:fr-CA", "-f", "webvtt", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Hello in fr-CA" in cues and "-->" in cues
