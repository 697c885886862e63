import pytest
from PIL import Image

from media_tasks.pipeline.exceptions import MediaLimitError, UnsupportedMediaError
from media_tasks.pipeline.probe import AUDIO, IMAGE, VIDEO, ProbeLimits, probe
from tests.media import SOUND_CODECS, make_exif_rotated_jpeg, make_sound, png_claiming

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
        (bytes(range(256)) * 64, "not a video, sound or image"),
        (b"This is a plain text file, not a movie.\n" * 20, "not a video, sound or image"),
    ],
    ids=["empty", "random-bytes", "text"],
)
def test_garbage_is_refused_whatever_its_name(tmp_path, content, message):
    path = tmp_path / "movie.mp4"
    path.write_bytes(content)
    with pytest.raises(UnsupportedMediaError, match=message):
        probe(path, LIMITS)


@pytest.mark.parametrize("fmt", sorted(SOUND_CODECS))
def test_a_sound_alone_is_recognised_by_its_content_in_every_accepted_format(tmp_path, fmt):
    info = probe(make_sound(tmp_path / f"tone.{fmt}", duration=3.0).rename(tmp_path / "named-wrongly.mp4"), LIMITS)
    assert (info.kind, info.width, info.height, info.has_audio) == (AUDIO, 0, 0, True)
    assert info.duration == pytest.approx(3.0, abs=0.1)
    assert info.audio_stream_index == 0 and info.cover_stream_index is None


def test_the_cover_art_of_a_tagged_sound_is_found_and_is_not_taken_for_a_picture(tmp_path):
    info = probe(make_sound(tmp_path / "song.mp3", cover=True), LIMITS)
    assert (info.kind, info.cover_stream_index, info.video_stream_index) == (AUDIO, 1, None)


def test_a_cover_art_bomb_is_left_out_and_the_sound_kept(tmp_path):
    (tmp_path / "huge.png").write_bytes(png_claiming(16000, 16000))  # 256 MP: 768 MB once decoded
    info = probe(make_sound(tmp_path / "song.mp3", cover=tmp_path / "huge.png"), LIMITS)
    assert (info.kind, info.cover_stream_index) == (AUDIO, None)


def test_a_text_file_named_like_a_sound_is_refused_with_its_reason(tmp_path):
    fake = tmp_path / "song.mp3"
    fake.write_text("ID3 is how an MP3 starts; this is a text file.\n" * 50)
    with pytest.raises(UnsupportedMediaError, match="not a video, sound or image"):
        probe(fake, LIMITS)


def test_a_sound_longer_than_the_limit_is_refused(tmp_path):
    with pytest.raises(MediaLimitError, match="The audio lasts 0:04; the limit is 0:03"):
        probe(make_sound(tmp_path / "long.flac", duration=4.0), ProbeLimits(max_duration_s=3, max_pixels=100))


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
