import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from pulse_teach import downscale
from pulse_teach.inputs import (
    InputError,
    default_factor,
    nearest_side,
    parse_background,
    parse_crop,
    prepare_input,
    valid_sides,
)

R = 64  # the bundled faces64 model's resolution


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def quadrants(side: int = 16) -> Image.Image:
    """Red top-left, green top-right, blue bottom-left, white bottom-right: orientation and crops show."""
    a = np.zeros((side, side, 3), np.uint8)
    h = side // 2
    a[:h, :h] = (255, 0, 0)
    a[:h, h:] = (0, 255, 0)
    a[h:, :h] = (0, 0, 255)
    a[h:, h:] = (255, 255, 255)
    return Image.fromarray(a)


def expected(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image.convert("RGB"), np.float32) / 255).permute(2, 0, 1)


@pytest.mark.parametrize("fmt, options", [("PNG", {}), ("BMP", {}), ("TIFF", {}), ("WEBP", {"lossless": True}),
                                          ("GIF", {})])
def test_lossless_formats_give_the_pixels_back(fmt, options, tmp_path):
    image = quadrants()
    path = tmp_path / f"face.{fmt.lower()}"
    path.write_bytes(encode(image, fmt, **options))
    prepared = prepare_input(path, R)
    assert prepared.low_res.shape == (3, 16, 16) and prepared.low_res.dtype == torch.float32
    assert torch.equal(prepared.low_res, expected(image))
    assert prepared.source == str(path) and prepared.original_size == (16, 16)


def test_jpeg_bytes_and_pil_images_are_accepted_too():
    image = quadrants()
    from_jpeg = prepare_input(encode(image, "JPEG", quality=95), R)
    assert from_jpeg.source == "<uploaded bytes>" and not from_jpeg.notices
    assert (from_jpeg.low_res - expected(image)).abs().mean() < 0.05
    assert torch.equal(prepare_input(image, R, name="upload.png").low_res, expected(image))


def test_gif_uses_the_first_frame_and_says_so():
    red, blue = Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))
    prepared = prepare_input(encode(red, "GIF", save_all=True, append_images=[blue]), R)
    assert torch.allclose(prepared.low_res[:, 4, 4], torch.tensor([1.0, 0, 0]))
    assert any("2 frames" in n and "first" in n for n in prepared.notices)


@pytest.mark.parametrize("background, value", [("white", 1.0), ("black", 0.0), ("0,128,255", None)])
def test_transparency_is_composited_on_the_background(background, value):
    image = Image.new("RGBA", (8, 8), (255, 0, 0, 255))
    image.putpixel((0, 0), (0, 255, 0, 0))  # fully transparent: its hidden green must not show
    prepared = prepare_input(encode(image), R, background=background)
    corner = prepared.low_res[:, 0, 0]
    want = torch.full((3,), value) if value is not None else torch.tensor([0, 128, 255]) / 255
    assert torch.allclose(corner, want, atol=1e-6)
    assert torch.allclose(prepared.low_res[:, 4, 4], torch.tensor([1.0, 0, 0]))
    assert any("transparent" in n for n in prepared.notices)
    opaque = prepare_input(encode(Image.new("RGBA", (8, 8), (1, 2, 3, 255))), R)
    assert not opaque.notices  # an alpha channel with nothing transparent changes nothing


def test_greyscale_palette_and_16_bit_are_converted():
    grey = prepare_input(encode(Image.new("L", (8, 8), 51)), R)
    assert torch.allclose(grey.low_res, torch.full((3, 8, 8), 0.2)) and "greyscale" in grey.notices[0]
    palette = prepare_input(encode(quadrants().convert("P")), R)
    assert torch.equal(palette.low_res, expected(quadrants())) and "palette" in palette.notices[0]
    sixteen = np.full((8, 8), 32768, np.uint16)
    sixteen[0, 0] = 65535
    deep = prepare_input(encode(Image.fromarray(sixteen)), R)
    assert torch.allclose(deep.low_res[:, 1, 1], torch.full((3,), 32768 / 65535))
    assert torch.allclose(deep.low_res[:, 0, 0], torch.ones(3)) and "16-bit" in deep.notices[0]
    tiff = prepare_input(encode(Image.fromarray(sixteen), "TIFF"), R)
    assert torch.equal(tiff.low_res, deep.low_res)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_is_applied(fmt):
    exif = Image.Exif()
    exif[0x0112] = 3  # "rotate 180": the camera was upside down
    prepared = prepare_input(encode(quadrants(), fmt, exif=exif, **({"quality": 100} if fmt == "JPEG" else {})), R)
    # after turning it upright, white (stored bottom-right) is top-left and red is bottom-right
    assert prepared.low_res[:, 3, 3].min() > 0.9
    assert prepared.low_res[0, 12, 12] > 0.9 and prepared.low_res[1:, 12, 12].max() < 0.1
    assert any("EXIF orientation 3" in n for n in prepared.notices)


def test_non_square_is_centre_cropped_or_cropped_where_asked():
    wide = np.zeros((16, 32, 3), np.uint8)
    wide[:, 8:24] = 200  # the centre square is all 200
    prepared = prepare_input(Image.fromarray(wide), R)
    assert prepared.low_res.shape == (3, 16, 16) and torch.allclose(prepared.low_res, torch.full((3, 16, 16), 200 / 255))
    assert any("32x16 is not square: centre-cropped to 16x16" in n for n in prepared.notices)
    left = prepare_input(Image.fromarray(wide), R, crop=(0, 0, 8, 8))
    assert left.low_res.shape == (3, 8, 8) and float(left.low_res.max()) == 0.0
    assert any("cropped to 8x8 at (0, 0)" in n for n in left.notices)
    with pytest.raises(InputError, match="crop 30,0,8,8 reaches outside the 32x16 image"):
        prepare_input(Image.fromarray(wide), R, crop=(30, 0, 8, 8), name="wide.png")


def test_sizes_that_do_not_divide_the_model_are_resized_to_the_nearest_valid_side():
    assert valid_sides(64) == [2, 4, 8, 16, 32]
    assert [nearest_side(s, 64) for s in (3, 5, 6, 11, 12, 20, 40, 63)] == [4, 4, 8, 8, 16, 16, 32, 32]
    prepared = prepare_input(Image.new("RGB", (12, 12), (10, 20, 30)), R)
    assert prepared.low_res.shape == (3, 16, 16)
    assert torch.allclose(prepared.low_res, torch.tensor([10, 20, 30]).float().div(255)[:, None, None].expand(3, 16, 16),
                          atol=1e-5)
    assert prepared.notices == ["12x12 resized to 16x16 (12 does not divide the model's 64)"]
    asked = prepare_input(Image.new("RGB", (16, 16)), R, factor=8)
    assert asked.low_res.shape == (3, 8, 8) and "x8 needs 8x8" in asked.notices[0]


def test_an_input_at_the_models_resolution_is_downscaled_first():
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    prepared = prepare_input(image, R)
    assert prepared.low_res.shape == (3, 8, 8) and torch.equal(prepared.high_res, expected(image))
    assert torch.allclose(prepared.low_res, downscale(expected(image)[None], 8)[0].clamp(0, 1))
    assert any("model's own resolution" in n and "downscaled x8 to 8x8" in n for n in prepared.notices)
    assert [default_factor(r) for r in (8, 64, 256, 1024)] == [4, 8, 32, 64]  # to 8x8; 16x16 at 1024 (paper's x64)
    x4 = prepare_input(image, R, factor=4)
    assert x4.low_res.shape == (3, 16, 16)
    photo = prepare_input(Image.new("RGB", (900, 600), (0, 90, 180)), R)  # a big photo: crop, shrink, downscale
    assert photo.low_res.shape == (3, 8, 8) and photo.high_res.shape == (3, 64, 64)
    assert torch.allclose(photo.low_res[:, 4, 4], torch.tensor([0, 90, 180]) / 255, atol=2e-3)
    assert any("600x600 resized to the model's 64x64" in n for n in photo.notices)


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims to be width x height: the shape of a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def bad_input_zoo(tmp_path) -> dict:
    """name -> (path, the reason its message must give)."""
    good = encode(quadrants())
    zoo = {
        "empty.png": (b"", "empty file"),
        "notes.png": (b"this is a text file, not a picture\n", "not an image"),
        "truncated.png": (good[: len(good) // 2], "truncated"),
        "truncated.jpg": (encode(quadrants(64), "JPEG")[:300], "truncated"),
        "one_pixel.png": (encode(Image.new("RGB", (1, 1))), "1x1 image is too small"),
        "one_row.png": (encode(Image.new("RGB", (40, 1))), "40x1 image (1x1 once cropped square) is too small"),
        "bomb.png": (png_header_only(100_000, 100_000), "decompression bomb"),
        "huge.png": (encode(Image.new("L", (1100, 1000))), "over the limit of 1,000,000"),
    }
    paths = {}
    for name, (data, reason) in zoo.items():
        (tmp_path / name).write_bytes(data)
        paths[name] = (tmp_path / name, reason)
    (tmp_path / "folder.png").mkdir()
    paths["folder.png"] = (tmp_path / "folder.png", "is a folder")
    paths["missing.png"] = (tmp_path / "missing.png", "no such file")
    return paths


def test_every_bad_input_is_refused_with_one_line_naming_the_file_and_the_reason(tmp_path):
    for name, (path, reason) in bad_input_zoo(tmp_path).items():
        with pytest.raises(InputError) as caught:
            prepare_input(path, R, max_pixels=1_000_000)
        message = str(caught.value)
        assert message.startswith(f"{path}: ") and reason in message, (name, message)
        assert "\n" not in message and caught.value.source == str(path), name


def test_bad_arguments_are_value_errors():
    image = Image.new("RGB", (8, 8))
    for factor in (3, 1, 64, "8", True):
        with pytest.raises(ValueError, match="factor must divide 64"):
            prepare_input(image, R, factor=factor)
    assert parse_crop("1,2,30,40") == (1, 2, 30, 40)
    for spec in ("1,2,3", "a,b,c,d", "0,0,0,5", "-1,0,5,5"):
        with pytest.raises(ValueError, match="crop"):
            parse_crop(spec)
    assert parse_background("black") == (0, 0, 0) and parse_background("#ff8000") == (255, 128, 0)
    with pytest.raises(ValueError, match="background"):
        parse_background("not-a-colour")
    with pytest.raises(TypeError, match="path, bytes or a PIL image"):
        prepare_input(12345, R)


def test_files_too_large_to_be_pictures_are_refused_before_reading(tmp_path, monkeypatch):
    import pulse_teach.inputs as inputs
    monkeypatch.setattr(inputs, "MAX_FILE_BYTES", 10_000)
    path = tmp_path / "video.png"
    path.write_bytes(b"\0" * 20_000)
    with pytest.raises(InputError, match=r"video.png: 0 MiB is too large for a picture"):
        prepare_input(path, R)
