"""Poster and sprite, made both ways: decoded from a file (make_poster, make_sprite), and from
the frames the ladder encode writes on the side (frame_outputs, thumbnails_from_frames)."""

import re

import pytest
from PIL import Image, ImageChops, ImageStat

from media_tasks.pipeline.probe import ProbeLimits, probe
from media_tasks.pipeline.streams import transcode_ladder
from media_tasks.pipeline.thumbnails import (
    ImageFile,
    Posters,
    Sprite,
    make_poster,
    make_sprite,
    thumbnails_from_frames,
)
from media_tasks.pipeline.video import EncodeSettings, plan_ladder
from tests.media import make_video

LIMITS = ProbeLimits(max_duration_s=3600, max_pixels=50_000_000)
WAYS = ["decoded", "from-encode"]


def posters(way, clip, tmp_path) -> tuple[Posters, Sprite]:
    info = probe(clip, LIMITS)
    if way == "decoded":
        return make_poster(clip, info, tmp_path), make_sprite(clip, info, tmp_path)
    frames = tmp_path / "frames"
    rungs = plan_ladder(info, [240])
    transcode_ladder(clip, info, rungs, tmp_path / "streams", settings=EncodeSettings(), frames_dir=frames)
    return thumbnails_from_frames(frames, info, tmp_path)


def thumbnails(way, clip, tmp_path) -> tuple[ImageFile, Sprite]:
    """The poster picked, and the sprite."""
    made, sprite = posters(way, clip, tmp_path)
    return made.chosen.image, sprite


@pytest.mark.parametrize("way", WAYS)
def test_poster_is_scaled_to_fit_and_keeps_aspect(landscape_1080p, tmp_path, way):
    poster, _ = thumbnails(way, landscape_1080p, tmp_path)
    with Image.open(poster.path) as im:
        assert im.format == "JPEG"
        assert im.size == (poster.width, poster.height) == (1280, 720)
    assert not list(tmp_path.glob("*.bmp")), "the grabbed frames are cleaned up"


@pytest.mark.parametrize("way", WAYS)
def test_every_candidate_is_kept_for_the_owner_to_choose(tmp_path, way):
    clip = make_video(tmp_path / "fade.mp4", width=640, height=360, duration=4.0, black_lead_in=1.0)
    made, _ = posters(way, clip, tmp_path)
    assert [f.name for f in made.frames] == ["frame-10", "frame-30", "frame-50"]
    assert made.chosen.name == "frame-30", "10% is black: the next one is picked"
    for frame in made.frames:
        with Image.open(frame.image.path) as im:
            assert im.format == "JPEG" and im.size == (frame.image.width, frame.image.height) == (640, 360)


@pytest.mark.parametrize("way", WAYS)
def test_poster_skips_a_black_opening(tmp_path, way):
    clip = make_video(tmp_path / "fade.mp4", width=640, height=360, duration=3.0, black_lead_in=1.5)
    poster, _ = thumbnails(way, clip, tmp_path)
    with Image.open(poster.path) as im:
        assert ImageStat.Stat(im.convert("L")).mean[0] > 40


@pytest.mark.parametrize("way", WAYS)
def test_portrait_poster(rotated_portrait, tmp_path, way):
    poster, sprite = thumbnails(way, rotated_portrait, tmp_path)
    assert (poster.width, poster.height) == (720, 1280)
    assert (sprite.tile_width, sprite.tile_height) == (160, 284)


@pytest.mark.parametrize("way", WAYS)
def test_sprite_sheet_and_vtt_cover_the_whole_duration(tmp_path, way):
    clip = make_video(tmp_path / "clip.mp4", width=640, height=360, duration=12.0, audio=False)
    _, sprite = thumbnails(way, clip, tmp_path)
    assert sprite.tiles == 12 and (sprite.tile_width, sprite.tile_height) == (160, 90)
    with Image.open(sprite.image.path) as im:
        assert im.size == (10 * 160, 2 * 90)
    cues = re.findall(
        r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\nsprite\.jpg#xywh=(\d+),(\d+),160,90",
        sprite.vtt.read_text(),
    )
    assert len(cues) == 12
    assert cues[0][:2] == ("00:00:00.000", "00:00:01.000")
    assert cues[-1][1] == "00:00:12.000"
    assert (int(cues[10][2]), int(cues[10][3])) == (0, 90)  # 11th tile: 1st column, 2nd row


def test_both_ways_take_the_same_tiles(tmp_path):
    """The tiles from the encode are the frames make_sprite would decode: same times, same picture."""
    clip = make_video(tmp_path / "clip.mp4", width=640, height=360, duration=5.0, audio=False)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, decoded = thumbnails("decoded", clip, tmp_path / "a")
    _, encoded = thumbnails("from-encode", clip, tmp_path / "b")
    assert decoded.vtt.read_text() == encoded.vtt.read_text()
    with Image.open(decoded.image.path) as a, Image.open(encoded.image.path) as b:
        assert a.size == b.size
        diff = ImageStat.Stat(ImageChops.difference(a.convert("L"), b.convert("L")))
        assert diff.mean[0] < 3, "the same frames, up to JPEG noise"


def test_sprite_with_fewer_columns(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", width=640, height=360, duration=7.0, audio=False)
    sprite = make_sprite(clip, probe(clip, LIMITS), tmp_path, columns=5)
    with Image.open(sprite.image.path) as im:
        assert im.size == (5 * 160, 2 * 90)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("duration", [0.1, 1 / 30], ids=["tenth-of-a-second", "one-frame"])
def test_very_short_videos_still_get_thumbnails(tmp_path, duration, way):
    clip = make_video(tmp_path / "short.mp4", width=320, height=240, duration=duration, audio=False)
    poster, sprite = thumbnails(way, clip, tmp_path)
    assert poster.size_bytes > 0
    assert sprite.tiles == 1
