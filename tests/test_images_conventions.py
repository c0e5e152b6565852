"""Picture conventions have one owner, pulse_teach.images: uint8 HWC -> float CHW, [-1, 1] -> [0, 1], tensor -> imshow."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from pulse_teach.images import from_generator, from_uint8, to_display

PACKAGE = Path(__file__).resolve().parents[1] / "pulse_teach"


def test_from_uint8_gives_float_chw_in_0_1():
    pixels = np.zeros((2, 4, 5, 3), dtype=np.uint8)
    pixels[0, 1, 2] = (255, 0, 51)
    images = from_uint8(pixels)
    assert images.shape == (2, 3, 4, 5) and images.dtype == torch.float32
    assert images[0, :, 1, 2].tolist() == pytest.approx([1.0, 0.0, 0.2])
    assert from_uint8(pixels[0]).shape == (1, 3, 4, 5)
    with pytest.raises(ValueError, match="expected uint8"):
        from_uint8(pixels.astype(np.float32))


def test_from_generator_maps_minus_one_one_to_zero_one():
    x = torch.tensor([-1.0, 0.0, 1.0, 1.5])
    assert from_generator(x).tolist() == [0.0, 0.5, 1.0, 1.25]  # unclamped, as PULSE's loss sees it
    assert from_generator(x, clamp=True).tolist() == [0.0, 0.5, 1.0, 1.0]


def test_to_display_gives_an_hwc_array_clamped():
    image = torch.full((3, 2, 4), 2.0, requires_grad=True)
    shown = to_display(image)
    assert isinstance(shown, np.ndarray) and shown.shape == (2, 4, 3) and shown.max() == 1.0
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        to_display(torch.zeros(1, 3, 2, 2))


def test_the_library_converts_pictures_only_through_images():
    inline = re.compile(r"permute\(0, 3, 1, 2\)\.float\(\) / 255|\.add\(1\)\.div\(2\)|\(\w+ \+ 1\) / 2|"
                        r"clamp\(0, 1\)\.permute\(1, 2, 0\)")
    found = [f"{path.relative_to(PACKAGE)}:{n}" for path in PACKAGE.rglob("*.py") if path.name != "images.py"
             for n, line in enumerate(path.read_text().splitlines(), 1) if inline.search(line)]
    assert not found, f"inline picture conversions (use pulse_teach.images): {found}"
