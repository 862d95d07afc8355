"""Image files: every format and mode loads, exports round-trip, bad input is one clear error."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from engine.media.image.export import encode_image, save_image
from engine.media.image.files import (
    ImageError,
    LoadedImage,
    decode_image,
    extend_image,
    load_image,
    to_8bit,
    with_edit,
)

RNG = np.random.default_rng(7)
ROOT = Path(__file__).resolve().parents[3]


def rgb_array(height: int = 12, width: int = 10) -> np.ndarray:
    return RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)


def png_bytes(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


def chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def png16_by_hand(samples: np.ndarray, color_type: int) -> bytes:
    """A 16-bit PNG written independently of remask's writer (filter 0 rows)."""
    height, width = samples.shape[:2]
    raw = samples.astype(">u2").reshape(height, -1)
    rows = b"".join(b"\x00" + raw[r].tobytes() for r in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- formats and modes


@pytest.mark.parametrize("file_format", ["PNG", "BMP", "TIFF", "WEBP"])
def test_lossless_rgb_formats_load_exactly(tmp_path: Path, file_format: str) -> None:
    pixels = rgb_array()
    path = tmp_path / f"picture.{file_format.lower()}"
    options = {"lossless": True} if file_format == "WEBP" else {}
    Image.fromarray(pixels).save(path, file_format, **options)
    loaded = load_image(path)
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.shape == (12, 10, 3)
    assert np.array_equal(loaded.rgb, pixels)
    assert loaded.alpha is None and loaded.mode == "RGB" and loaded.bit_depth == 8
    assert loaded.format == file_format


def test_jpeg_with_exif_orientation_6_is_rotated(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)
    pixels[:, :20] = (250, 10, 10)  # left half red, right half blue, as stored
    pixels[:, 20:] = (10, 10, 250)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "phone.jpg"
    Image.fromarray(pixels).save(path, "JPEG", exif=exif.tobytes(), quality=95)
    loaded = load_image(path)
    assert loaded.rgb.shape == (40, 20, 3)  # width and height swapped
    assert loaded.rgb[2, 10, 0] > 200  # the stored left half is now on top
    assert loaded.rgb[-3, 10, 2] > 200
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_rgba_png_keeps_alpha(tmp_path: Path) -> None:
    rgba = RNG.integers(0, 256, (8, 9, 4), dtype=np.uint8)
    path = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(path)
    loaded = load_image(path)
    assert np.array_equal(loaded.rgb, rgba[:, :, :3])
    assert loaded.alpha is not None and np.array_equal(loaded.alpha, rgba[:, :, 3])


def test_gray_and_gray_alpha(tmp_path: Path) -> None:
    gray = RNG.integers(0, 256, (6, 7), dtype=np.uint8)
    Image.fromarray(gray, "L").save(tmp_path / "l.png")
    loaded = load_image(tmp_path / "l.png")
    assert loaded.is_gray and loaded.mode == "L"
    assert all(np.array_equal(loaded.rgb[:, :, c], gray) for c in range(3))
    alpha = RNG.integers(0, 256, (6, 7), dtype=np.uint8)
    Image.fromarray(np.dstack([gray, alpha]), "LA").save(tmp_path / "la.png")
    loaded = load_image(tmp_path / "la.png")
    assert loaded.alpha is not None and np.array_equal(loaded.alpha, alpha)


def test_palette_with_transparency(tmp_path: Path) -> None:
    indices = (np.arange(30).reshape(5, 6) % 3).astype(np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    path = tmp_path / "p.png"
    image.save(path, transparency=1)
    loaded = load_image(path)
    assert loaded.mode == "P"
    assert loaded.alpha is not None
    assert np.array_equal(loaded.alpha == 0, indices == 1)
    assert tuple(loaded.rgb[0, 0]) == (255, 0, 0) and tuple(loaded.rgb[0, 2]) == (0, 0, 255)


@pytest.mark.parametrize("file_format", ["PNG", "TIFF"])
def test_16bit_gray_keeps_every_bit(tmp_path: Path, file_format: str) -> None:
    samples = RNG.integers(0, 65536, (9, 11), dtype=np.uint16)
    path = tmp_path / f"deep.{file_format.lower()}"
    Image.fromarray(samples).save(path, file_format)
    loaded = load_image(path)
    assert loaded.bit_depth == 16 and loaded.mode == "I;16" and loaded.is_gray
    assert loaded.high is not None and np.array_equal(loaded.high[:, :, 0], samples)
    assert np.array_equal(loaded.rgb[:, :, 0], to_8bit(samples))


@pytest.mark.parametrize(("color_type", "channels"), [(2, 3), (6, 4), (4, 2)])
def test_16bit_colour_png_keeps_every_bit(color_type: int, channels: int) -> None:
    samples = RNG.integers(0, 65536, (7, 5, channels), dtype=np.uint16)
    loaded = decode_image(png16_by_hand(samples, color_type), "deep.png")
    assert loaded.bit_depth == 16
    assert loaded.high is not None and np.array_equal(loaded.high, samples)
    if channels in (2, 4):
        assert loaded.alpha is not None and np.array_equal(loaded.alpha, to_8bit(samples[:, :, -1]))


def test_cmyk_jpeg_is_converted_with_a_note(tmp_path: Path) -> None:
    Image.new("CMYK", (6, 4), (0, 255, 255, 0)).save(tmp_path / "print.jpg", quality=95)
    loaded = load_image(tmp_path / "print.jpg")
    assert loaded.mode == "CMYK" and loaded.rgb.shape == (4, 6, 3)
    assert loaded.rgb[0, 0, 0] > 200 and loaded.rgb[0, 0, 1] < 60
    assert any("CMYK" in note for note in loaded.notes)


def test_animated_gif_opens_its_first_frame_with_a_note(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (5, 5), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    loaded = load_image(tmp_path / "a.gif")
    assert tuple(loaded.rgb[0, 0]) == (255, 0, 0)
    assert any("first of 2 frames" in note for note in loaded.notes)


def test_to_8bit_inverts_widening() -> None:
    values = np.arange(256, dtype=np.uint16)
    assert np.array_equal(to_8bit(values * 257), values.astype(np.uint8))


# --------------------------------------------------------------------------- export


def test_png_round_trip_is_bit_exact_with_alpha(tmp_path: Path) -> None:
    rgba = RNG.integers(0, 256, (10, 13, 4), dtype=np.uint8)
    image = LoadedImage.from_rgb(
        np.ascontiguousarray(rgba[:, :, :3]), np.ascontiguousarray(rgba[:, :, 3])
    )
    assert save_image(image, tmp_path / "out.png") == ()
    again = load_image(tmp_path / "out.png")
    assert np.array_equal(again.rgb, image.rgb) and again.alpha is not None
    assert np.array_equal(again.alpha, image.alpha)


def test_webp_lossless_round_trip_keeps_alpha(tmp_path: Path) -> None:
    rgb, alpha = rgb_array(), RNG.integers(1, 256, (12, 10), dtype=np.uint8)
    save_image(LoadedImage.from_rgb(rgb, alpha), tmp_path / "out.webp")
    again = load_image(tmp_path / "out.webp")
    assert np.array_equal(again.rgb, rgb) and np.array_equal(again.alpha, alpha)


def test_jpeg_export_drops_alpha_with_a_note(tmp_path: Path) -> None:
    image = LoadedImage.from_rgb(rgb_array(), np.full((12, 10), 128, dtype=np.uint8))
    notes = save_image(image, tmp_path / "out.jpg")
    assert any("alpha" in note for note in notes)
    assert load_image(tmp_path / "out.jpg").alpha is None


def test_gray_source_exports_gray(tmp_path: Path) -> None:
    gray = RNG.integers(0, 256, (6, 7), dtype=np.uint8)
    Image.fromarray(gray, "L").save(tmp_path / "in.png")
    save_image(load_image(tmp_path / "in.png"), tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as written:
        assert written.mode == "L"
        assert np.array_equal(np.asarray(written), gray)


@pytest.mark.parametrize(("color_type", "channels"), [(0, 1), (2, 3), (6, 4)])
def test_16bit_edit_writes_back_outside_pixels_bit_exact(
    tmp_path: Path, color_type: int, channels: int
) -> None:
    samples = RNG.integers(0, 65536, (8, 8, channels), dtype=np.uint16)
    loaded = decode_image(png16_by_hand(samples, color_type), "deep.png")
    region = np.zeros((8, 8), dtype=np.bool_)
    region[2:5, 3:6] = True
    edited = with_edit(loaded, np.full((8, 8, 3), 200, dtype=np.uint8), region)
    save_image(edited, tmp_path / "out.png")
    again = decode_image((tmp_path / "out.png").read_bytes(), "out.png")
    assert again.bit_depth == 16 and again.high is not None
    assert np.array_equal(again.high[~region], samples[~region])  # untouched: every bit
    color = slice(0, 1 if channels <= 2 else 3)
    assert np.all(again.high[region][:, color] == 200 * 257)
    if channels == 4:  # alpha is not generated
        assert np.array_equal(again.high[region][:, 3], samples[region][:, 3])


def test_16bit_to_jpeg_notes_the_reduction() -> None:
    samples = RNG.integers(0, 65536, (4, 4, 3), dtype=np.uint16)
    loaded = decode_image(png16_by_hand(samples, 2), "deep.png")
    _, notes = encode_image(loaded, "JPEG")
    assert any("8 bits" in note for note in notes)


def test_with_edit_changes_only_the_region_and_keeps_gray() -> None:
    gray = RNG.integers(0, 256, (6, 6), dtype=np.uint8)
    image = LoadedImage(rgb=np.repeat(gray[:, :, None], 3, axis=2), mode="L")
    region = np.zeros((6, 6), dtype=np.bool_)
    region[1:3, 1:3] = True
    edited = with_edit(image, np.full((6, 6, 3), (255, 0, 0), dtype=np.uint8), region)
    assert np.array_equal(edited.rgb[~region], image.rgb[~region])
    inside = edited.rgb[region]
    assert np.all(inside[:, 0] == inside[:, 1]) and np.all(inside[:, 0] == 76)  # luma of red


def test_extend_image_pads_colour_and_makes_new_alpha_opaque() -> None:
    image = LoadedImage.from_rgb(rgb_array(4, 5), np.zeros((4, 5), dtype=np.uint8))
    wider = extend_image(image, 2, 1, 3, 0)
    assert wider.rgb.shape == (5, 10, 3)
    assert np.array_equal(wider.rgb[1:, 2:7], image.rgb)
    assert np.array_equal(wider.rgb[1:, 0], image.rgb[:, 0])  # edge-replicated
    assert wider.alpha is not None and wider.alpha[0, 0] == 255 and wider.alpha[2, 3] == 0


def test_failed_export_leaves_existing_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "keep.gif"
    target.write_bytes(b"old")
    with pytest.raises(ImageError, match="export as"):
        save_image(LoadedImage.from_rgb(rgb_array()), target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.gif"]


# --------------------------------------------------------------------------- bad input


def bomb_png(width: int, height: int) -> bytes:
    """A few dozen bytes whose header claims a huge image."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
    )


def truncated_png() -> bytes:
    data = png_bytes(Image.fromarray(rgb_array(64, 64)))
    return data[: len(data) // 2]


def truncated_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb_array(64, 64)).save(buffer, "JPEG")
    return buffer.getvalue()[:300]


def unsupported_float_tiff() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ones((3, 3), dtype=np.float32)).save(buffer, "TIFF")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (truncated_png(), "truncated"),
        (truncated_jpeg(), "truncated"),
        (b"this is a text file, not a picture\n" * 5, "not an image"),
        (bomb_png(30000, 30000), "too large"),
        (bomb_png(12000, 10000), "megapixels"),
        (unsupported_float_tiff(), "not supported"),
    ],
    ids=[
        "zero-bytes",
        "truncated-png",
        "truncated-jpeg",
        "not-an-image",
        "bomb",
        "over-100MP",
        "float-mode",
    ],
)
def test_bad_input_is_one_clear_image_error(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(data)
    with pytest.raises(ImageError) as caught:
        load_image(path)
    text = str(caught.value)
    assert message in text and "bad.png" in text
    assert "\n" not in text
    error = caught.value  # no Pillow/zlib exception leaks as cause or shown context
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert path.read_bytes() == data  # nothing modified
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_sample_photo_loads_and_is_small() -> None:
    path = ROOT / "assets" / "samples" / "photo.png"
    assert path.stat().st_size < 300_000
    loaded = load_image(path)
    assert loaded.rgb.shape[1] == 384 and loaded.alpha is None
