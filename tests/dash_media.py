"""CMAF streams for the DASH tests, in the stream area's layout (DESIGN-29), made here with ffmpeg's tee:
one video rung as ONE CMAF file (byte ranges), another as init.mp4 + seg_*.m4s (the lead rung's
shape), and the sound as segments. Tiny: 320x180 and 256x144, a few seconds.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from media_tasks.pipeline import fmp4
from media_tasks.pipeline.fmp4 import TrackIndex
from media_tasks.pipeline.identity import INIT, Stream, audio_stream, video_stream
from tests.media import FFMPEG

SINGLE = video_stream("180p")  # one CMAF file
SEGMENTED = video_stream("144p")  # init + segments, as the lead rung is stored
SOUND = audio_stream(128)

_CMAF = "+frag_keyframe+empty_moov+default_base_moof+cmaf"
_HLS = "f=hls:onfail=abort:hls_time=2:hls_playlist_type=vod:hls_segment_type=fmp4:hls_fmp4_init_filename=init.mp4"


def encode_streams(root: Path, *, duration: float = 5.0, tone: int = 440) -> Path:
    """The three streams under `root` (the stream area), keyframes at 0 s, 1 s, then every 2 s."""
    for stream in (SINGLE, SEGMENTED, SOUND):
        (root / stream.directory).mkdir(parents=True, exist_ok=True)
    outputs = "|".join(
        [
            f"[f=mp4:select=0:onfail=abort:movflags={_CMAF}]{root / SINGLE.single_file}",
            f"[{_HLS}:select=1:hls_init_time=1:hls_flags=independent_segments:"
            f"hls_segment_filename={root / SEGMENTED.directory}/seg_%05d.m4s]{root / SEGMENTED.playlist}",
            f"[{_HLS}:select=2:hls_init_time=2:hls_segment_filename={root / SOUND.directory}/seg_%05d.m4s]"
            f"{root / SOUND.playlist}",
        ]
    )
    subprocess.run(
        [
            *FFMPEG,
            *("-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={duration}"),
            *("-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=48000:duration={duration}"),
            *("-filter_complex", "[0:v]split=2[a][b];[b]scale=256:144[c]", "-map", "[a]", "-map", "[c]", "-map", "1:a"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-sc_threshold", "0"),
            *("-force_key_frames", "expr:eq(n,0)+gte(t,n_forced*2-1)"),
            # The tee hides from the encoders that mp4 wants the headers out of band (avcC, esds).
            *("-flags", "+global_header", "-c:a", "aac", "-b:a", "128k", "-f", "tee", outputs),
        ],
        check=True,
    )
    return root


def track_index(root: Path, stream: Stream) -> TrackIndex:
    """The stream's index, as the pipeline reads it (pipeline.fmp4)."""
    directory = root / stream.directory
    if segments := sorted(p.name for p in directory.glob("seg_*.m4s")):
        return fmp4.index_segments(directory, segments, INIT)
    return fmp4.index_single_file(root / stream.single_file)


def ladder(root: Path) -> tuple[list[tuple[Stream, TrackIndex]], tuple[Stream, TrackIndex]]:
    """write_mpd's arguments for the streams encode_streams wrote."""
    return [(s, track_index(root, s)) for s in (SINGLE, SEGMENTED)], (SOUND, track_index(root, SOUND))
