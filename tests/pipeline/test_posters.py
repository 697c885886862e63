"""The owner's poster (issue 28): the frame at the moment they pick, or a picture they upload,
made into a JPEG poster no larger than the automatic ones."""

import subprocess

import pytest
from PIL import Image, ImageStat

from media_tasks.pipeline.exceptions import MediaLimitError, ProcessingError
from media_tasks.pipeline.probe import ProbeLimits, probe
from media_tasks.pipeline.thumbnails import grab_frame_at, poster_from_image
from tests.media import make_exif_rotated_jpeg

LIMITS = ProbeLimits(max_duration_s=3600, max_pixels=50_000_000)
# One colour per two seconds: the frame at any time is known.
COLOURS = {"red": (255, 0, 0), "lime": (0, 255, 0), "blue": (0, 0, 255)}


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    path = tmp_path_factory.mktemp("posters") / "colours.mp4"
    inputs = [arg for name in COLOURS for arg in ("-f", "lavfi", "-i", f"color=c={name}:s=640x360:r=25:d=2")]
    concat = "".join(f"[{i}:v]" for i in range(len(COLOURS))) + f"concat=n={len(COLOURS)}:v=1:a=0[v]"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            *inputs,
            "-filter_complex",
            concat,
            "-map",
            "[v]",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "50",
            str(path),
        ],
        check=True,
    )
    return path


def _mean(path) -> tuple[float, ...]:
    with Image.open(path) as im:
        return tuple(ImageStat.Stat(im.convert("RGB")).mean)


@pytest.mark.parametrize(("at", "colour"), [(0.5, "red"), (3.0, "lime"), (5.2, "blue")])
def test_the_frame_at_the_time_picked_is_the_poster(colours, tmp_path, at, colour):
    info = probe(colours, LIMITS)
    image = grab_frame_at(colours, info, at, tmp_path / "poster.jpg")
    with Image.open(image.path) as im:
        assert im.format == "JPEG" and im.size == (image.width, image.height) == (640, 360)
    assert all(abs(got - want) < 40 for got, want in zip(_mean(image.path), COLOURS[colour], strict=True))
    assert image.size_bytes == image.path.stat().st_size
    assert not list(tmp_path.glob("*.bmp")), "the grabbed frame is cleaned up"


def test_a_time_past_the_end_is_refused(colours, tmp_path):
    info = probe(colours, LIMITS)
    with pytest.raises(ProcessingError, match=r"6\.0 s long"):
        grab_frame_at(colours, info, 60.0, tmp_path / "poster.jpg")


def test_an_uploaded_picture_is_made_an_upright_jpeg_no_larger_than_a_poster(tmp_path):
    src = make_exif_rotated_jpeg(tmp_path / "photo.jpg", width=3000, height=2000, orientation=6)
    image = poster_from_image(src, tmp_path / "poster.jpg", max_pixels=50_000_000)
    with Image.open(image.path) as im:
        assert im.format == "JPEG" and im.size == (image.width, image.height)
        assert (im.width, im.height) == (853, 1280), "upright (EXIF rotation applied), long side 1280"
        assert not im.getexif(), "no metadata is kept"


def test_an_uploaded_picture_over_the_pixel_limit_or_not_a_picture_is_refused(tmp_path):
    src = make_exif_rotated_jpeg(tmp_path / "photo.jpg", width=3000, height=2000)
    with pytest.raises(MediaLimitError, match="pixels"):
        poster_from_image(src, tmp_path / "poster.jpg", max_pixels=1_000_000)
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    with pytest.raises(ProcessingError, match="could not be decoded"):
        poster_from_image(text, tmp_path / "poster.jpg", max_pixels=1_000_000)
