"""A corpus of hostile and broken files, made here, through the real upload view and a real worker.

Every case must end in a clear state (succeeded, or failed with a readable reason,
or refused at upload) and the worker must still be alive afterwards.
"""

import http.server
import io
import threading
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from media_tasks import services
from media_tasks.models import Job
from media_tasks.processing.streams import rendition_fetch
from tests.e2e.test_upload_to_renditions import fetch, post, rung_download, wait_for_job
from tests.media import (
    ffprobe,
    make_audio,
    make_cut_short_avi,
    make_cut_short_mp4,
    make_sound,
    make_video,
    png_claiming,
    streams,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

UNREADABLE = "not a video, sound or image we can read"


class CountingHandler(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):
        CountingHandler.requests.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def listener():
    """A local HTTP server that an SSRF attempt would hit; it must see no request."""
    CountingHandler.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", CountingHandler.requests
    server.shutdown()


def jpeg_with_huge_exif() -> bytes:
    exif = Image.Exif()
    exif[0x9286] = b"ASCII\x00\x00\x00" + b"A" * 60_000  # UserComment: ~60 KB, near the APP1 limit
    exif[0x010F] = "HostileCam"
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 30, 30)).save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def colour_png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_hostile_corpus_ends_in_clear_states(celery_worker, s3_storage, alice_client, tmp_path, listener):
    base_url, seen_requests = listener
    s3 = s3_storage
    made = tmp_path / "made"
    made.mkdir()

    def write(name: str, data: bytes) -> Path:
        path = made / f"{len(list(made.iterdir()))}.bin"
        path.write_bytes(data)
        return path

    plain = make_video(made / "plain.mp4", width=320, height=240, duration=1.0)
    cases: dict[str, tuple[Path, str, str]] = {
        # name: (file, upload name, expected ending)
        "random bytes as .mp4": (write("r", bytes(range(256)) * 512), "movie.mp4", "failed"),
        "text renamed .mov": (write("t", b"Just some notes, honestly.\n" * 200), "clip.mov", "failed"),
        "truncated MP4 (no moov)": (
            write("c", make_video(tmp_path / "long.mp4", width=320, height=240, duration=2.0).read_bytes()[:20_000]),
            "cut.mp4",
            "failed",
        ),
        "HLS playlist as .avi (SSRF)": (
            write(
                "h",
                (
                    f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{base_url}/secret.ts\n"
                    "#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
                ).encode(),
            ),
            "video.avi",
            "failed",
        ),
        "concat list": (
            write("k", b"ffconcat version 1.0\nfile '/etc/passwd'\nfile '" + base_url.encode() + b"/x'\n"),
            "list.mp4",
            "failed",
        ),
        "decompression-bomb PNG": (write("b", _bomb_png()), "bomb.png", "failed"),
        "PNG claiming 30000x30000": (write("p", png_claiming(30000, 30000)), "huge.png", "failed"),
        "JPEG with a 60 KB EXIF block": (write("e", jpeg_with_huge_exif()), "exif.jpg", "succeeded"),
        "SVG with script": (
            write("s", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
            "logo.svg",
            "failed",
        ),
        "audio only": (make_audio(made / "tone.m4a"), "song.m4a", "succeeded"),
        "MP3 whose cover claims 16000x16000": (
            make_sound(made / "bomb.mp3", cover=write("c", png_claiming(16000, 16000))),
            "song.mp3",
            "succeeded",
        ),
        "text named .mp3": (write("t", b"ID3? no: a text file\n" * 100), "song.mp3", "failed"),
        "video without audio": (
            make_video(made / "silent.mp4", width=320, height=240, duration=1.0, audio=False),
            "silent.mp4",
            "succeeded",
        ),
        "rotated portrait": (
            make_video(made / "rot.mp4", width=640, height=360, duration=1.0, rotate=90),
            "phone.mp4",
            "succeeded",
        ),
        "variable frame rate": (_vfr_video(made / "vfr.mp4"), "vfr.mp4", "succeeded"),
        "one-frame video": (
            make_video(made / "one.mp4", width=320, height=240, duration=1 / 30, audio=False),
            "one.mp4",
            "succeeded",
        ),
        "0.1 s video": (make_video(made / "tenth.mp4", width=320, height=240, duration=0.1), "tenth.mp4", "succeeded"),
        "name with ../": (write("n1", colour_png((10, 200, 10))), "../../etc/passwd.png", "succeeded"),
        "name with quotes": (write("n2", colour_png((10, 10, 200))), 'it\'s "quoted" $(rm -rf ~).png', "succeeded"),
        "name with a newline": (write("n3", colour_png((200, 200, 10))), "line\nbreak\r.png", "succeeded"),
        "unicode name": (write("n4", colour_png((90, 10, 90))), "ünïcødé 🎬 видео.png", "succeeded"),
        "plain video (then its duplicate)": (plain, "plain.mp4", "succeeded"),
    }
    accepted = {name: post(alice_client, path, name=upload_name) for name, (path, upload_name, _) in cases.items()}
    empty = alice_client.post(
        reverse("asset_upload"), {"file": File(io.BytesIO(b""), name="empty.mp4")}, HTTP_ACCEPT="application/json"
    )
    duplicate = post_duplicate(alice_client, plain)

    endings = {
        "zero-byte file": f"refused at upload ({empty.status_code}): {empty.json()['error']['fields']['file'][0]}"
    }
    for name, body in accepted.items():
        job, _ = wait_for_job(body["job_id"], celery_worker)
        expected = cases[name][2]
        assert job.status == expected, f"{name}: {job.status} {job.error}"
        if expected == "failed":
            assert job.error and "Traceback" not in job.error, name
        endings[name] = f"{job.status}" + (f": {job.error}" if job.error else "")
        check_case(name, job, s3, alice_client, tmp_path)
    endings["duplicate upload"] = f"recognised ({duplicate.status_code}), same asset: " + str(
        duplicate.json()["asset_id"] == accepted["plain video (then its duplicate)"]["asset_id"]
    )

    assert empty.status_code == 400
    assert duplicate.status_code == 200 and duplicate.json()["duplicate"] is True
    assert seen_requests == [], f"ffmpeg fetched {seen_requests}"
    assert celery_worker.proc.poll() is None, "the worker survived the whole corpus"
    print(f"\nHostile corpus: {len(endings)} cases")
    for name, ending in endings.items():
        print(f"  {name:34} → {ending}")


def test_a_file_cut_short_fails_with_its_reason(celery_worker, s3_storage, user, client, tmp_path):
    """An MP4 cut in half (its index still says 6 s) and an AVI cut at 40% (its header still counts
    20 s of frames), sent through the API: each job fails and says the file is cut short."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {services.api_token_create(owner=user, name='cut').plaintext}"
    files = {
        "cut.mp4": make_cut_short_mp4(tmp_path / "cut.mp4", duration=6.0, width=640, height=360, tone=311),
        "cut.avi": make_cut_short_avi(tmp_path / "cut.avi", duration=20.0),
    }
    endings = {}
    for name, path in files.items():
        created = client.post("/api/v1/assets", {"file": SimpleUploadedFile(name, path.read_bytes())})
        assert created.status_code == 202, created.content
        wait_for_job(created.json()["job_id"], celery_worker)
        asset = client.get(f"/api/v1/assets/{created.json()['asset_id']}").json()
        rows = Job.objects.get(asset_id=asset["id"]).asset.renditions.filter(kind="mp4")
        durations = {r.profile: ffprobe(rendition_fetch(r, tmp_path / "out.mp4"))["format"]["duration"] for r in rows}
        print(f"\n{name}: {asset['status']}: {asset['error']} (renditions {durations})")
        endings[name] = (asset["status"], asset["error"] or "", asset["renditions"])
    for name, (status, error, renditions) in endings.items():
        assert status == "failed", f"{name}: {status}"
        assert "cut short" in error, error
        assert renditions == []


def post_duplicate(client, path: Path):
    with path.open("rb") as fh:
        return client.post(
            reverse("asset_upload"), {"file": File(fh, name="again.mp4")}, HTTP_ACCEPT="application/json"
        )


def check_case(name: str, job: Job, s3, client, tmp_path: Path) -> None:
    asset = job.asset
    if name in (
        "random bytes as .mp4",
        "text renamed .mov",
        "HLS playlist as .avi (SSRF)",
        "concat list",
        "SVG with script",
        "text named .mp3",
    ):
        assert UNREADABLE in job.error
    elif name in ("decompression-bomb PNG", "PNG claiming 30000x30000"):
        assert "pixels; the limit is" in job.error
    elif name == "audio only":  # a sound alone is accepted since issue 31, and plays as a sound
        assert asset.kind == "audio" and asset.renditions.filter(kind="m4a").exists()
    elif name == "MP3 whose cover claims 16000x16000":  # the cover left out, never decoded
        assert asset.kind == "audio" and not asset.renditions.filter(kind="cover").exists()
    elif name == "JPEG with a 60 KB EXIF block":
        variant = fetch(s3, asset.renditions.get(profile="640.jpg").storage_key, tmp_path / "exif-640.jpg")
        with Image.open(variant) as im:
            assert not im.getexif()
    elif name == "video without audio":
        mp4 = rung_download(client, asset.renditions.get(kind="mp4"), tmp_path / "silent-out.mp4")
        assert streams(ffprobe(mp4), "audio") == [] and not asset.renditions.filter(kind="audio").exists()
    elif name == "rotated portrait":
        assert (
            asset.renditions.get(kind="mp4", profile="360p").width,
            asset.renditions.get(profile="360p").height,
        ) == (360, 640)
    elif name.startswith("name with") or name == "unicode name":
        assert "/" not in asset.original_filename and "\n" not in asset.original_filename
        assert asset.original_key == f"originals/{asset.id}/source"


def _bomb_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(buffer, "PNG")  # ~20 KB on disk, 144 Mpx decoded
    return buffer.getvalue()


def _vfr_video(path: Path) -> Path:
    """30 fps for the first second, then every other frame: timestamps with two cadences."""
    import subprocess

    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=30:duration=2",
            "-vf",
            "select='lt(n\\,30)+not(mod(n\\,2))'",
            "-fps_mode",
            "vfr",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(path),
        ],
        check=True,
    )
    return path
