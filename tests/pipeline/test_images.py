import pytest
from PIL import Image

from media_tasks.pipeline.exceptions import MediaLimitError, ProcessingError
from media_tasks.pipeline.images import make_image_variants
from tests.media import make_exif_rotated_jpeg, quadrant_image

WIDTHS = [320, 640, 1280, 2048]
MAX_PIXELS = 50_000_000


def variants_by_name(variants):
    return {v.name: v for v in variants}


def pixel(path, xy):
    with Image.open(path) as im:
        return im.convert("RGB").getpixel(xy)


def near(color, expected, tolerance=40):
    return all(abs(a - b) <= tolerance for a, b in zip(color, expected, strict=True))


def test_exif_orientation_is_applied_and_metadata_stripped(tmp_path):
    src = make_exif_rotated_jpeg(tmp_path / "src.jpg", 1600, 1200, orientation=6)
    variants = variants_by_name(make_image_variants(src, tmp_path / "out", WIDTHS, max_pixels=MAX_PIXELS))
    # Displayed 1200x1600: 1280 and 2048 would upscale, so 320, 640 and its own 1200 exist.
    assert sorted(variants) == ["1200.jpg", "1200.webp", "320.jpg", "320.webp", "640.jpg", "640.webp"]
    assert (variants["640.jpg"].width, variants["640.jpg"].height) == (640, 853)
    for v in variants.values():
        with Image.open(v.path) as im:
            assert im.size == (v.width, v.height)
            assert not im.getexif(), "EXIF must be stripped"
            assert "icc_profile" not in im.info
        # Orientation 6 turns the stored top-left (red) corner to the top-right.
        assert near(pixel(v.path, (v.width - 5, 5)), (255, 0, 0))
        assert near(pixel(v.path, (5, 5)), (0, 0, 255))


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    src = tmp_path / "cmyk.jpg"
    quadrant_image(800, 600, "CMYK").save(src, "JPEG", quality=95)
    variants = variants_by_name(make_image_variants(src, tmp_path / "out", WIDTHS, max_pixels=MAX_PIXELS))
    assert sorted(variants) == ["320.jpg", "320.webp", "640.jpg", "640.webp", "800.jpg", "800.webp"]
    with Image.open(variants["640.jpg"].path) as im:
        assert im.mode == "RGB"
    assert near(pixel(variants["640.jpg"].path, (5, 5)), (255, 0, 0), tolerance=60)


def test_png_alpha_is_flattened_on_white_for_jpeg_and_kept_in_webp(tmp_path):
    src = tmp_path / "alpha.png"
    im = Image.new("RGBA", (700, 400), (0, 0, 0, 0))
    im.paste((0, 128, 0, 255), (0, 0, 350, 400))
    im.save(src)
    variants = variants_by_name(make_image_variants(src, tmp_path / "out", WIDTHS, max_pixels=MAX_PIXELS))
    assert near(pixel(variants["640.jpg"].path, (600, 200)), (255, 255, 255), tolerance=5)
    assert near(pixel(variants["640.jpg"].path, (50, 200)), (0, 128, 0))
    with Image.open(variants["640.webp"].path) as webp:
        assert webp.mode == "RGBA" and webp.getpixel((600, 200))[3] == 0


def test_palette_gif_and_animated_gif_first_frame(tmp_path):
    src = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (500, 300), color).convert("P") for color in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0)
    variants = variants_by_name(make_image_variants(src, tmp_path / "out", WIDTHS, max_pixels=MAX_PIXELS))
    assert sorted(variants) == ["320.jpg", "320.webp", "500.jpg", "500.webp"]  # 500 wide: 640 would upscale
    assert near(pixel(variants["320.jpg"].path, (10, 10)), (255, 0, 0))


def test_image_smaller_than_every_width_keeps_its_own_size(tmp_path):
    src = tmp_path / "tiny.png"
    Image.new("RGB", (200, 100), (10, 20, 30)).save(src)
    variants = make_image_variants(src, tmp_path / "out", WIDTHS, max_pixels=MAX_PIXELS)
    assert {(v.width, v.height) for v in variants} == {(200, 100)}


def test_pixel_limit(tmp_path):
    src = tmp_path / "big.png"
    Image.new("1", (5000, 5000)).save(src)
    with pytest.raises(MediaLimitError, match="5000×5000"):
        make_image_variants(src, tmp_path / "out", WIDTHS, max_pixels=1_000_000)


def test_truncated_image_fails_cleanly(tmp_path):
    good = tmp_path / "good.png"
    quadrant_image(800, 600).save(good)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ProcessingError, match="damaged"):
        make_image_variants(cut, tmp_path / "out", WIDTHS, max_pixels=MAX_PIXELS)


def test_an_image_narrower_than_the_largest_width_gets_one_at_its_own_width(tmp_path):
    """A 500 px image must not top out at 320 px, which srcset would then upscale."""
    src = tmp_path / "narrow.png"
    Image.new("RGB", (500, 250), (200, 100, 50)).save(src)
    variants = variants_by_name(make_image_variants(src, tmp_path / "out", WIDTHS, max_pixels=MAX_PIXELS))
    assert sorted(variants) == ["320.jpg", "320.webp", "500.jpg", "500.webp"]
    assert (variants["500.jpg"].width, variants["500.jpg"].height) == (500, 250)
