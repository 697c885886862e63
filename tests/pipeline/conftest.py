from pathlib import Path

import pytest

from tests.media import make_video


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def landscape_1080p(media_dir) -> Path:
    return make_video(media_dir / "landscape.mp4", width=1920, height=1080, duration=2.0)


@pytest.fixture(scope="session")
def portrait_720x1280(media_dir) -> Path:
    return make_video(media_dir / "portrait.mp4", width=720, height=1280, duration=2.0)


@pytest.fixture(scope="session")
def rotated_portrait(media_dir) -> Path:
    """Stored 1280x720 with rotation metadata, as phones record: displays as 720x1280."""
    return make_video(media_dir / "rotated.mp4", width=1280, height=720, duration=2.0, rotate=90)


@pytest.fixture(scope="session")
def small_silent(media_dir) -> Path:
    return make_video(media_dir / "small.mp4", width=320, height=240, duration=2.0, audio=False)
