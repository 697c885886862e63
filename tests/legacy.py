"""Today's (pre-CMAF) layout, made as the old ladder made it, for the repackage tests.

The old encode (`git show 188e298:media_tasks/pipeline/video.py`: rendition_slaves, ladder_tee)
wrote every rung twice from the same packets, through one tee muxer: a faststart MP4 with the
picture and the sound at the rung's bitrate, and an HLS playlist of MPEG-TS segments; then
hls.write_hls_master wrote a VERSION 3 master over the rungs' playlists. This reproduces that
command and that master on a tiny clip, so a test has a library "made by today's code" without
keeping the old code alive.
"""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

FFMPEG = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


@dataclass(frozen=True)
class OldRung:
    name: str
    width: int
    height: int
    audio_kbps: int


# Two rungs of a 320x180 source; the top one gets the old ladder's 128 kb/s sound (as a >= 720p
# rung did), the lower one 96 kb/s, so that the sound's bitrate differs between the two files.
TINY_LADDER = (OldRung("180p", 320, 180, 128), OldRung("144p", 256, 144, 96))


def _slaves(rung: OldRung, select: list[int]) -> str:
    """The old rendition_slaves: a faststart MP4 and HLS (MPEG-TS) from the same packets."""
    picked = f"select={','.join(map(str, select))}"
    return (
        f"[f=mp4:{picked}:onfail=abort:movflags=+faststart]{rung.name}.mp4|"
        f"[f=hls:{picked}:onfail=abort:hls_time=2:hls_init_time=1:hls_playlist_type=event"
        f":hls_flags=independent_segments+temp_file:hls_segment_type=mpegts"
        f":hls_segment_filename=hls/{rung.name}/seg_%05d.ts]hls/{rung.name}/index.m3u8"
    )


def encode_old_ladder(src: Path, out_dir: Path, rungs: tuple[OldRung, ...] = TINY_LADDER, fps: int = 30) -> dict:
    """The old one-decode ladder of `src` into `out_dir`: `<rung>.mp4` and `hls/<rung>/...`, plus
    `hls/master.m3u8` as the old write_hls_master wrote it. Returns rung name -> MP4 path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for rung in rungs:
        (out_dir / "hls" / rung.name).mkdir(parents=True, exist_ok=True)
    bitrates = sorted({r.audio_kbps for r in rungs})
    split = f"[0:v]split={len(rungs)}" + "".join(f"[s{i}]" for i in range(len(rungs)))
    scales = [f"[s{i}]scale={r.width}:{r.height},setsar=1[v{i}]" for i, r in enumerate(rungs)]
    cmd = [*FFMPEG, "-i", str(src.absolute()), "-filter_complex", ";".join([split, *scales])]
    gop = 2 * fps
    keyframes = f"expr:if(lt(n_forced,2),gte(t,n_forced*1),not(mod(n,{gop})))"
    for i, _ in enumerate(rungs):
        cmd += ["-map", f"[v{i}]", f"-c:v:{i}", "libx264", f"-preset:v:{i}", "veryfast", f"-crf:v:{i}", "23"]
        cmd += [f"-profile:v:{i}", "high", f"-sc_threshold:v:{i}", "0", f"-g:v:{i}", str(gop)]
        cmd += [f"-keyint_min:v:{i}", str(gop), f"-force_key_frames:v:{i}", keyframes]
    for j, kbps in enumerate(bitrates):
        cmd += ["-map", "0:a:0", f"-b:a:{j}", f"{kbps}k"]
    cmd += ["-c:a", "aac", "-ac", "2", "-ar", "48000"]
    tee = "|".join(_slaves(rung, [i, len(rungs) + bitrates.index(rung.audio_kbps)]) for i, rung in enumerate(rungs))
    cmd += ["-f", "tee", "-flags:v", "+global_header", "-flags:a", "+global_header"]
    cmd += ["-map_metadata", "-1", "-metadata:s:v", "rotate=0", tee]
    subprocess.run(cmd, check=True, cwd=out_dir)
    _write_old_master(out_dir / "hls", rungs)
    return {rung.name: out_dir / f"{rung.name}.mp4" for rung in rungs}


def _write_old_master(hls_dir: Path, rungs: tuple[OldRung, ...]) -> None:
    """The old hls.write_hls_master: each rung's playlist made VOD, a VERSION 3 master over them."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rung in rungs:
        playlist = hls_dir / rung.name / "index.m3u8"
        text = playlist.read_text().replace("#EXT-X-PLAYLIST-TYPE:EVENT", "#EXT-X-PLAYLIST-TYPE:VOD")
        playlist.write_text(text)
        bits = sum(p.stat().st_size for p in playlist.parent.glob("*.ts")) * 8
        seconds = sum(float(line[8:].split(",")[0]) for line in text.splitlines() if line.startswith("#EXTINF:"))
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={math.ceil(bits / seconds)},RESOLUTION={rung.width}x{rung.height},"
            f'CODECS="avc1.64000d,mp4a.40.2"'
        )
        lines.append(f"{rung.name}/index.m3u8")
    (hls_dir / "master.m3u8").write_text("\n".join(lines) + "\n")


def packets(path: Path | str, stream: str) -> list[tuple[int, bool]]:
    """(size, keyframe) of every packet of `stream` ("v:0", "a:0"), in order, as ffprobe reads them
    (its other flags say how the container marks them: an MP4's edit list discards the priming)."""
    done = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            stream,
            "-show_entries",
            "packet=size,flags",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [(int(p["size"]), p["flags"].startswith("K")) for p in json.loads(done.stdout).get("packets", [])]
