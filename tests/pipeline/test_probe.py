import pytest
from PIL import Image

from media_tasks.pipeline.exceptions import MediaLimitError, UnsupportedMediaError
from media_tasks.pipeline.probe import IMAGE, VIDEO, ProbeLimits, probe
from tests.media import make_audio, make_exif_rotated_jpeg

LIMITS = ProbeLimits(max_duration_s=3600, max_pixels=50_000_000)


def test_landscape_video(landscape_1080p):
    info = probe(landscape_1080p, LIMITS)
    assert info.kind == VIDEO
    assert (info.width, info.height) == (1920, 1080)
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert info.frame_rate == 30
    assert (info.video_codec, info.audio_codec, info.has_audio) == ("h264", "aac", True)
    assert "mp4" in info.container


def test_rotated_video_reports_display_size(rotated_portrait):
    info = probe(rotated_portrait, LIMITS)
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (720, 1280)


def test_silent_video(small_silent):
    info = probe(small_silent, LIMITS)
    assert (info.width, info.height, info.has_audio, info.audio_codec) == (320, 240, False, None)


def test_image_with_exif_orientation(tmp_path):
    info = probe(make_exif_rotated_jpeg(tmp_path / "x.bin"), LIMITS)
    assert info.kind == IMAGE
    assert (info.width, info.height) == (1200, 1600)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (bytes(range(256)) * 64, "not a video or image"),
        (b"This is a plain text file, not a movie.\n" * 20, "not a video or image"),
    ],
    ids=["empty", "random-bytes", "text"],
)
def test_garbage_is_refused_whatever_its_name(tmp_path, content, message):
    path = tmp_path / "movie.mp4"
    path.write_bytes(content)
    with pytest.raises(UnsupportedMediaError, match=message):
        probe(path, LIMITS)


def test_audio_only_is_refused_with_a_reason(tmp_path):
    with pytest.raises(UnsupportedMediaError, match="audio-only"):
        probe(make_audio(tmp_path / "tone.m4a"), LIMITS)


def test_truncated_mp4_is_refused(tmp_path, landscape_1080p):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(landscape_1080p.read_bytes()[: 64 * 1024])  # mdat first, moov lost
    with pytest.raises(UnsupportedMediaError):
        probe(cut, LIMITS)


def test_hls_playlist_disguised_as_avi_is_refused(tmp_path):
    sneaky = tmp_path / "video.avi"
    sneaky.write_text("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")
    with pytest.raises(UnsupportedMediaError):
        probe(sneaky, LIMITS)


def test_duration_limit(landscape_1080p):
    with pytest.raises(MediaLimitError, match="limit is 0:01"):
        probe(landscape_1080p, ProbeLimits(max_duration_s=1, max_pixels=50_000_000))


def test_pixel_limit_refuses_decompression_bomb(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (12_000, 12_000)).save(path)  # tiny file, 144 Mpx once decoded
    with pytest.raises(MediaLimitError, match="12000×12000"):
        probe(path, ProbeLimits(max_duration_s=3600, max_pixels=50_000_000))
