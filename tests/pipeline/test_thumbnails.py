import re

import pytest
from PIL import Image, ImageStat

from media_tasks.pipeline.probe import ProbeLimits, probe
from media_tasks.pipeline.thumbnails import make_poster, make_sprite
from tests.media import make_video

LIMITS = ProbeLimits(max_duration_s=3600, max_pixels=50_000_000)


def test_poster_is_scaled_to_fit_and_keeps_aspect(landscape_1080p, tmp_path):
    info = probe(landscape_1080p, LIMITS)
    poster = make_poster(landscape_1080p, info, tmp_path / "poster.jpg")
    with Image.open(poster.path) as im:
        assert im.format == "JPEG"
        assert im.size == (poster.width, poster.height) == (1280, 720)
    assert not list(tmp_path.glob("poster-*")), "candidate frames are cleaned up"


def test_poster_skips_a_black_opening(tmp_path):
    clip = make_video(tmp_path / "fade.mp4", width=640, height=360, duration=3.0, black_lead_in=1.5)
    info = probe(clip, LIMITS)
    poster = make_poster(clip, info, tmp_path / "poster.jpg")
    with Image.open(poster.path) as im:
        assert ImageStat.Stat(im.convert("L")).mean[0] > 40


def test_portrait_poster(rotated_portrait, tmp_path):
    info = probe(rotated_portrait, LIMITS)
    poster = make_poster(rotated_portrait, info, tmp_path / "poster.jpg")
    assert (poster.width, poster.height) == (720, 1280)


def test_sprite_sheet_and_vtt_cover_the_whole_duration(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", width=640, height=360, duration=12.0, audio=False)
    info = probe(clip, LIMITS)
    sprite = make_sprite(clip, info, tmp_path, columns=5)
    assert sprite.tiles == 12 and (sprite.tile_width, sprite.tile_height) == (160, 90)
    with Image.open(sprite.image.path) as im:
        assert im.size == (5 * 160, 3 * 90)
    cues = re.findall(
        r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\nsprite\.jpg#xywh=(\d+),(\d+),160,90",
        sprite.vtt.read_text(),
    )
    assert len(cues) == 12
    assert cues[0][:2] == ("00:00:00.000", "00:00:01.000")
    assert cues[-1][1] == "00:00:12.000"
    assert (int(cues[6][2]), int(cues[6][3])) == (160, 90)  # 7th tile: 2nd column, 2nd row


@pytest.mark.parametrize("duration", [0.1, 1 / 30], ids=["tenth-of-a-second", "one-frame"])
def test_very_short_videos_still_get_thumbnails(tmp_path, duration):
    clip = make_video(tmp_path / "short.mp4", width=320, height=240, duration=duration, audio=False)
    info = probe(clip, LIMITS)
    assert make_poster(clip, info, tmp_path / "poster.jpg").size_bytes > 0
    assert make_sprite(clip, info, tmp_path).tiles == 1
