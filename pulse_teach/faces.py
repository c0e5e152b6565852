"""A procedural cartoon-face world whose every attribute is known.

No face data set ships with pulse_teach, so the lessons draw their own: `sample_attributes` draws
attribute dicts, `render` turns one into a (size, size, 3) uint8 face, `dataset` does both for many.
Coarse attributes survive a downscale to 8x8 pixels; fine ones do not, which is what lets a lesson
measure what PULSE recovers and what it merely imagines.

Attributes are drawn independently of each other on purpose: a correlation (say "long hair means no
beard") would let a model guess a fine attribute from a coarse one and blur that measurement. Odd
combinations such as long hair with a goatee therefore occur; a lesson that wants a skewed or
correlated world builds it from several `dataset` calls with overrides.
"""
from __future__ import annotations

import math
import signal
import zlib
from collections import deque
from dataclasses import dataclass
from multiprocessing import Pool
from typing import Iterator

import numpy as np
from PIL import Image, ImageChops, ImageDraw


@dataclass(frozen=True)
class Attribute:
    """One knob of the face world: its values, its prior and whether it survives at 8x8."""

    name: str
    kind: str  # "categorical" or "continuous"
    values_or_range: tuple  # category names, or (low, high)
    coarse: bool  # visible after an area downscale to 8x8
    description: str
    weights: tuple[float, ...] | None = None  # default prior of a categorical (None: uniform)
    groups: tuple[tuple[str, float, float], ...] = ()  # named sub-ranges of a continuous


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("skin_tone", "continuous", (0.0, 1.0), True,
              "0 = lightest, 1 = darkest, along a ramp of realistic skin colours",
              groups=(("light", 0.0, 0.5), ("dark", 0.5, 1.0))),
    Attribute("hair_color", "categorical",
              ("black", "brown", "auburn", "ginger", "blonde", "grey"), True,
              "colour of hair, eyebrows and facial hair (a bald head shows it only in those)"),
    Attribute("hair_style", "categorical", ("bald", "short", "curly", "bob", "long", "bun"), True,
              "silhouette of the hair; long and bob frame the face with side locks"),
    Attribute("head_shape", "categorical", ("oval", "round", "square"), True,
              "narrow and tall, wide and round, or wide with a square jaw"),
    Attribute("background", "categorical",
              ("sky", "mint", "lemon", "peach", "lavender", "grey", "navy", "forest"), True,
              "flat background colour"),
    Attribute("shirt_color", "categorical",
              ("red", "orange", "yellow", "green", "blue", "purple", "white", "black"), True,
              "colour of the shirt on the shoulders"),
    Attribute("lighting", "continuous", (-1.0, 1.0), True,
              "-1 = lit from the left (right side in shadow), 0 = frontal, 1 = lit from the right",
              groups=(("left", -1.0, -1 / 3), ("front", -1 / 3, 1 / 3), ("right", 1 / 3, 1.0))),
    Attribute("exposure", "continuous", (-1.0, 1.0), True,
              "light on the face and neck: -1 = in shade, 0 = normal, 1 = bright sun (hair, clothes and "
              "background are lit apart); at 8x8 it confounds skin tone",
              groups=(("dim", -1.0, -1 / 3), ("normal", -1 / 3, 1 / 3), ("bright", 1 / 3, 1.0))),
    Attribute("iris_color", "categorical", ("brown", "blue", "green", "amber"), False,
              "colour of the irises"),
    Attribute("freckles", "categorical", ("none", "freckles"), False,
              "dots on cheeks and nose", weights=(0.6, 0.4)),
    Attribute("facial_hair", "categorical", ("none", "stubble", "moustache", "goatee"), False,
              "stubble texture on the jaw, a moustache, or moustache plus chin tuft",
              weights=(0.4, 0.2, 0.2, 0.2)),
    Attribute("glasses", "categorical", ("none", "round", "square"), False,
              "bold dark frames", weights=(0.5, 0.25, 0.25)),
    Attribute("earrings", "categorical", ("none", "studs", "hoops"), False,
              "gold earrings on the lobes", weights=(0.5, 0.25, 0.25)),
    Attribute("eyebrows", "categorical", ("straight", "arched", "slanted"), False,
              "eyebrow shape"),
    Attribute("mouth", "categorical", ("neutral", "smile", "grin"), False,
              "closed straight mouth, closed smile, or open smile showing teeth"),
)
ATTRIBUTE_BY_NAME = {a.name: a for a in ATTRIBUTES}
COARSE = tuple(a.name for a in ATTRIBUTES if a.coarse)
FINE = tuple(a.name for a in ATTRIBUTES if not a.coarse)
SKIN_THRESHOLD = 0.5  # skin_tone below this is "light", at or above it "dark"


def group_of(name: str, value: float) -> str:
    """Name of the sub-range (e.g. "light"/"dark") a continuous value falls in; ValueError outside them all."""
    attribute = ATTRIBUTE_BY_NAME[name]
    for group, low, high in attribute.groups:
        if low <= value < high or (value == high == attribute.values_or_range[1]):
            return group
    raise ValueError(f"{name}={value!r} is outside its groups {attribute.groups}")


def skin_group(tone: float) -> str:
    """"light" or "dark", split at SKIN_THRESHOLD, so skin distributions can be counted."""
    return group_of("skin_tone", tone)


# ---------------------------------------------------------------- sampling
def _check_value(attribute: Attribute, value) -> object:
    if attribute.kind == "categorical":
        if value not in attribute.values_or_range:
            raise ValueError(f"{attribute.name} must be one of {attribute.values_or_range}, "
                             f"got {value!r}")
        return value
    low, high = attribute.values_or_range
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not low <= value <= high:
        raise ValueError(f"{attribute.name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def _weights(attribute: Attribute, spec: dict, names: tuple) -> np.ndarray:
    if not spec or any(k not in names for k in spec):
        raise ValueError(f"{attribute.name} weights must use keys from {names}, got {spec!r}")
    weights = np.array([float(spec.get(k, 0.0)) for k in names])
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"{attribute.name} weights must be >= 0 with a positive sum, got {spec!r}")
    return weights / weights.sum()


def _draw_column(attribute: Attribute, spec, u: np.ndarray, v: np.ndarray) -> list:
    """Values of one attribute from two uniforms per face, (n,) each, so overrides never shift other faces.

    u picks the category (or the value inside a range); v picks a named group of a continuous attribute.
    """
    n = len(u)
    if attribute.kind == "categorical":
        names = attribute.values_or_range
        if isinstance(spec, str) and spec != "balanced":
            return [_check_value(attribute, spec)] * n
        if spec is None:
            spec = dict(zip(names, attribute.weights or [1.0] * len(names)))
        elif spec == "balanced":
            spec = dict.fromkeys(names, 1.0)
        elif not isinstance(spec, dict):
            raise ValueError(f"{attribute.name} override must be a category, 'balanced' or a dict "
                             f"of weights over {names}, got {spec!r}")
        index = np.searchsorted(np.cumsum(_weights(attribute, spec, names)), u, side="right")
        return [names[min(i, len(names) - 1)] for i in index]
    low, high = attribute.values_or_range
    group_names = tuple(g[0] for g in attribute.groups)
    if spec is None or spec == "balanced":
        spec = (low, high)
    elif isinstance(spec, str):
        if spec not in group_names:
            raise ValueError(f"{attribute.name} override must be a number in [{low}, {high}], "
                             f"'balanced', a group of {group_names}, a dict of group weights or "
                             f"a (low, high) range, got {spec!r}")
        spec = {spec: 1.0}
    if isinstance(spec, dict):  # weights over named groups, uniform inside each group
        weights = _weights(attribute, spec, group_names)
        chosen = np.minimum(np.searchsorted(np.cumsum(weights), v, side="right"), len(weights) - 1)
        bounds = np.array([g[1:] for g in attribute.groups])[chosen]
        return [float(x) for x in bounds[:, 0] + u * (bounds[:, 1] - bounds[:, 0])]
    if isinstance(spec, tuple) and len(spec) == 2:  # uniform on a sub-range
        a, b = (_check_value(attribute, x) for x in spec)
        return [float(x) for x in a + u * (b - a)]
    return [_check_value(attribute, spec)] * n


def _check_names(overrides: dict) -> None:
    unknown = set(overrides) - set(ATTRIBUTE_BY_NAME)
    if unknown:
        raise ValueError(f"unknown attribute(s) {sorted(unknown)}; expected some of {list(ATTRIBUTE_BY_NAME)}")


def sample_attributes(n: int, seed: int, **overrides) -> list[dict]:
    """n attribute dicts, deterministic per seed; each attribute has its own random stream.

    An override is a fixed value (`glasses="none"`, `skin_tone=0.2`), "balanced" (uniform), a dict of
    weights over categories or named groups (`skin_tone={"light": 0.9, "dark": 0.1}`), a group name
    (`skin_tone="dark"`), or a (low, high) sub-range. Overriding one attribute leaves the others as
    they were for that seed, so `glasses="none"` gives the same faces without glasses. Raises ValueError
    for a bad n or seed, an unknown attribute or an override that does not fit its attribute.
    """
    for arg, value in (("n", n), ("seed", seed)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{arg} must be a non-negative int, got {value!r}")
    _check_names(overrides)
    # one stream per attribute, keyed by its name: adding an attribute later changes no other
    streams = {a.name: np.random.default_rng([seed, zlib.crc32(a.name.encode())]) for a in ATTRIBUTES}
    uniforms = {name: (rng.random(n), rng.random(n)) for name, rng in streams.items()}
    columns = {a.name: _draw_column(a, overrides.get(a.name), *uniforms[a.name]) for a in ATTRIBUTES}
    return [{name: column[j] for name, column in columns.items()} for j in range(n)]


LATENT_CODES = 2 * len(ATTRIBUTES)  # z coordinates ``attributes_from_latent`` reads: two per attribute


def attributes_from_latent(z: np.ndarray, **overrides) -> list[dict]:
    """The faces that standard-normal codes stand for: (N, >= LATENT_CODES) -> N attribute dicts.

    Attribute i reads coordinates 2i and 2i + 1 through the normal CDF as the two uniforms of
    ``sample_attributes``, so codes drawn from N(0, I) give faces with exactly the world's prior (and
    overrides). This is how a trainer pairs a generator's latent with the render it should look like.
    Raises ValueError for too few coordinates and whatever ``sample_attributes`` refuses.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < LATENT_CODES:
        raise ValueError(f"z must be (N, >= {LATENT_CODES}) codes, got shape {z.shape}")
    _check_names(overrides)
    uniform = np.clip(0.5 * (1 + np.vectorize(math.erf)(z[:, :LATENT_CODES] / math.sqrt(2))), 0.0, 1 - 1e-12)
    columns = {a.name: _draw_column(a, overrides.get(a.name), uniform[:, 2 * i], uniform[:, 2 * i + 1])
               for i, a in enumerate(ATTRIBUTES)}
    return [{name: column[j] for name, column in columns.items()} for j in range(len(z))]


class LatentCodes:
    """z -> what z's first LATENT_CODES coordinates stand for, spelled out: (N, z_dim) -> (N, num_features).

    Each categorical attribute becomes a +-1 one-hot, each continuous one its value scaled to [-1.7, 1.7]
    (about unit variance), via ``attributes_from_latent(z, **overrides)``; z's other coordinates follow
    unchanged. A mapping network fed these learns the world's category boundaries for free: in paired
    regression G's error fell to 0.15 in 500 steps where raw z stalled at 0.25. Not differentiable in z
    (PULSE searches w, after the mapping). Raises ValueError for z_dim < LATENT_CODES or a bad override.
    """

    def __init__(self, z_dim: int, **overrides):
        if z_dim < LATENT_CODES:
            raise ValueError(f"latent codes need z_dim >= {LATENT_CODES} (two per attribute), got {z_dim}")
        attributes_from_latent(np.zeros((1, LATENT_CODES)), **overrides)  # refuses bad overrides now, not later
        self.z_dim, self.overrides = z_dim, dict(overrides)
        width = sum(len(a.values_or_range) if a.kind == "categorical" else 1 for a in ATTRIBUTES)
        self.num_features = width + z_dim - LATENT_CODES

    def __call__(self, z):  # torch tensor (N, z_dim) -> (N, num_features), same device and dtype
        import torch

        codes = labels(attributes_from_latent(z[:, :LATENT_CODES].detach().double().cpu().numpy(), **self.overrides))
        columns = []
        for a in ATTRIBUTES:
            if a.kind == "categorical":
                columns.append(np.eye(len(a.values_or_range))[codes[a.name]] * 2 - 1)  # (N, categories)
            else:
                low, high = a.values_or_range
                columns.append(((codes[a.name] - low) / (high - low) * 2 - 1)[:, None] * 1.7)  # (N, 1)
        spelled = torch.from_numpy(np.concatenate(columns, axis=1)).to(z)  # (N, 56)
        return torch.cat([spelled, z[:, LATENT_CODES:]], dim=1)


def labels(faces: list[dict]) -> dict[str, np.ndarray]:
    """Attributes as arrays for a probe: category index (int64) or value (float32)."""
    out = {}
    for a in ATTRIBUTES:
        column = [face[a.name] for face in faces]
        out[a.name] = (np.array([a.values_or_range.index(c) for c in column], dtype=np.int64)
                       if a.kind == "categorical" else np.array(column, dtype=np.float32))
    return out


# ---------------------------------------------------------------- colours
_SKIN_RAMP = np.array([(252, 226, 206), (240, 200, 165), (222, 170, 126), (190, 134, 90),
                       (142, 94, 62), (100, 64, 42), (66, 42, 30)], dtype=float)
_HAIR = {"black": (28, 24, 24), "brown": (98, 62, 34), "auburn": (140, 48, 30),
         "ginger": (214, 112, 44), "blonde": (236, 204, 120), "grey": (176, 176, 180)}
_IRIS = {"brown": (110, 58, 22), "blue": (40, 120, 230), "green": (30, 160, 60), "amber": (230, 160, 20)}
_BACKGROUND = {"sky": (150, 200, 240), "mint": (170, 230, 200), "lemon": (245, 235, 150),
               "peach": (250, 190, 160), "lavender": (200, 180, 235), "grey": (150, 150, 155),
               "navy": (30, 45, 90), "forest": (40, 90, 55)}
_SHIRT = {"red": (200, 40, 45), "orange": (240, 140, 40), "yellow": (245, 215, 60),
          "green": (60, 160, 70), "blue": (50, 90, 200), "purple": (130, 60, 170),
          "white": (240, 240, 240), "black": (35, 35, 40)}
_HEAD = {"oval": (11.0, 16.5), "round": (14.0, 14.5), "square": (16.0, 14.5)}  # half width, height
_FRAME, _GOLD, _DARK = (20, 20, 28), (235, 185, 35), (45, 25, 25)


def skin_color(tone: float) -> tuple[int, int, int]:
    """RGB of a skin tone in [0, 1], linearly interpolated along the ramp."""
    x = float(np.clip(tone, 0.0, 1.0)) * (len(_SKIN_RAMP) - 1)
    i = min(int(x), len(_SKIN_RAMP) - 2)
    return _mix(_SKIN_RAMP[i + 1], _SKIN_RAMP[i], x - i)


EXPOSURE_DIM, EXPOSURE_WASH = 0.5, 0.35  # exposure -1: colours x0.5; +1: 35 % of the way to white


def expose(rgb, exposure: float) -> tuple[int, int, int]:
    """An RGB colour (0-255) of the face under less (exposure < 0) or more (> 0) light; exposure in [-1, 1].

    Shade scales colours towards black; bright sun washes them towards white. A light-skinned face in
    shade and a dark-skinned one in the sun then have nearly the same skin colour: the eye whites and
    teeth tell them apart at 64x64, nothing does at 8x8 (the confound of the bias lesson).
    """
    c = np.asarray(rgb, dtype=float)
    c = c * (1 + EXPOSURE_DIM * exposure) if exposure < 0 else c + (255 - c) * (EXPOSURE_WASH * exposure)
    return tuple(int(round(x)) for x in np.clip(c, 0, 255))


def _mix(a, b, t: float) -> tuple[int, int, int]:
    """t parts of colour a, 1 - t parts of colour b."""
    return tuple(int(round(t * x + (1 - t) * y)) for x, y in zip(a, b))


def _shade(c, f: float) -> tuple[int, int, int]:
    return tuple(int(min(255, round(x * f))) for x in c)


def _against(c, skin, min_contrast: float = 45) -> tuple[int, int, int]:
    """c, darkened where needed to stand out from the skin (brown brows on brown skin)."""
    def luma(rgb):
        return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]

    if abs(luma(c) - luma(skin)) >= min_contrast:
        return tuple(c)
    return _shade(c, max(0.45 * luma(skin) - 8, 4) / max(luma(c), 1.0))


# ---------------------------------------------------------------- drawing
class _Pen:
    """ImageDraw in a 64-unit coordinate system, whatever the pixel size of the canvas."""

    def __init__(self, image: Image.Image):
        self.draw, self.k = ImageDraw.Draw(image), image.width / 64
        self.light = None  # a colour transform for what is drawn now (the face's exposure), or None

    def _lit(self, colour):
        return colour if colour is None or self.light is None else self.light(colour)

    def ellipse(self, cx, cy, rx, ry, fill=None, outline=None, width=0.0):
        k, fill, outline = self.k, self._lit(fill), self._lit(outline)
        self.draw.ellipse(((cx - rx) * k, (cy - ry) * k, (cx + rx) * k, (cy + ry) * k),
                          fill=fill, outline=outline, width=max(1, round(width * k)) if outline else 0)

    def polygon(self, points, fill=None, outline=None, width=0.0):
        fill, outline = self._lit(fill), self._lit(outline)
        pts = [(x * self.k, y * self.k) for x, y in points]
        self.draw.polygon(pts, fill=fill, outline=outline, width=max(1, round(width * self.k)))

    def line(self, points, fill, width):
        w = max(1, round(width * self.k))
        self.draw.line([(x * self.k, y * self.k) for x, y in points], fill=self._lit(fill), width=w, joint="curve")
        for x, y in (points[0], points[-1]):  # round caps
            self.ellipse(x, y, width / 2, width / 2, fill=fill)

    def box(self, x0, y0, x1, y1, radius, fill=None, outline=None, width=0.0):
        k, fill, outline = self.k, self._lit(fill), self._lit(outline)
        self.draw.rounded_rectangle((x0 * k, y0 * k, x1 * k, y1 * k), radius * k, fill=fill,
                                    outline=outline, width=max(1, round(width * k)) if outline else 0)


def _arc(cx, cy, rx, ry, t0, t1, n=24):
    """Points on an ellipse from angle t0 to t1 (degrees, 0 = right, 90 = up)."""
    ts = np.radians(np.linspace(t0, t1, n))
    return [(cx + rx * math.cos(t), cy - ry * math.sin(t)) for t in ts]


_SPOTS = np.random.default_rng(1234).random((180, 2))  # fixed layout for freckles and stubble


def _back_hair(pen, style, cx, cy, hw, hh, hair, edge):
    top = _arc(cx, cy - 0.5, hw + 3.2, hh + 3.2, 0, 180)
    if style in ("long", "bob"):
        bottom = 58.0 if style == "long" else cy + 13.0
        side = hw + (5.0 if style == "long" else 3.6)
        pts = top + [(cx - side, bottom - 3), (cx - side + 3, bottom), (cx + side - 3, bottom),
                     (cx + side, bottom - 3)]
        pen.polygon(pts, fill=hair, outline=edge, width=0.9)
    elif style == "curly":
        for x, y in _arc(cx, cy - 1, hw + 2.5, hh + 2.0, -25, 205, 13):
            pen.ellipse(x, y, 4.6, 4.6, fill=hair, outline=edge, width=0.8)
        pen.ellipse(cx, cy - 2, hw + 3.5, hh + 2.5, fill=hair)
    elif style == "bun":
        pen.ellipse(cx, cy - hh - 3.0, 5.5, 5.0, fill=hair, outline=edge, width=0.9)


def _front_hair(pen, style, cx, cy, hw, hh, hair, edge):
    top = cy - hh
    outer = _arc(cx, cy - 0.5, hw + 1.2, hh + 1.6, -8, 188)
    if style == "short":
        pts = outer + [(cx - hw + 0.6, cy - 1), (cx - hw + 2.5, top + 8), (cx - 3, top + 5.5),
                       (cx + 1, top + 7.5), (cx + hw - 2.5, top + 7), (cx + hw - 0.6, cy - 1)]
    elif style == "bob":
        pts = outer[:1] + [(cx + hw + 1.6, cy + 12)] + outer[1:] + [
            (cx - hw - 1.6, cy + 12), (cx - hw + 2.6, cy + 12), (cx - hw + 2.6, top + 9.5),
            (cx + hw - 2.6, top + 9.5), (cx + hw - 2.6, cy + 12)]
    elif style == "long":
        pts = outer[:1] + [(cx + hw + 1.8, cy + 17)] + outer[1:] + [
            (cx - hw - 1.8, cy + 17), (cx - hw + 2.4, cy + 15), (cx - hw + 2.8, top + 10),
            (cx - 1, top + 4.5), (cx + hw - 2.8, top + 10), (cx + hw - 2.4, cy + 15)]
    elif style == "bun":
        pts = _arc(cx, cy - 0.5, hw + 0.8, hh + 1.3, 10, 170) + [(cx - hw + 2, top + 6),
                                                                 (cx + hw - 2, top + 6)]
    elif style == "curly":
        for x, y in _arc(cx, cy - 1, hw - 1.0, hh - 1.5, 30, 150, 6):
            pen.ellipse(x, y, 3.3, 3.1, fill=hair, outline=edge, width=0.8)
        return
    else:  # bald
        return
    pen.polygon(pts, fill=hair, outline=edge, width=0.9)
    if style in ("long", "bob"):  # strands give the hair texture and separate it from skin
        for dx in (-0.55, 0.55):
            pen.line([(cx + dx * hw * 0.8, top + 2), (cx + dx * hw * 0.95, top + 7)], edge, 0.6)


def _eye(pen, x, y, iris, rx=3.4, ry=2.5):
    pen.ellipse(x, y, rx, ry, fill=(250, 250, 250), outline=_DARK, width=0.5)
    pen.ellipse(x, y + 0.2, 2.1, 2.1, fill=iris)
    pen.ellipse(x, y + 0.2, 0.95, 0.95, fill=(10, 10, 10))
    pen.ellipse(x - 0.7, y - 0.6, 0.5, 0.5, fill=(255, 255, 255))
    pen.line(_arc(x, y, rx, ry, 165, 15, 8), _DARK, 0.8)  # upper lid


def render(attributes: dict, size: int = 64, supersample: int = 4) -> np.ndarray:
    """(size, size, 3) uint8 face: drawn `supersample` times larger, then area-averaged down.

    Raises ValueError unless ``attributes`` has exactly the world's attributes with valid values, and for
    a size below 8.
    """
    missing = set(ATTRIBUTE_BY_NAME) - set(attributes)
    extra = set(attributes) - set(ATTRIBUTE_BY_NAME)
    if missing or extra:
        raise ValueError(f"attributes need exactly {list(ATTRIBUTE_BY_NAME)}; missing "
                         f"{sorted(missing)}, unknown {sorted(extra)}")
    a = {name: _check_value(ATTRIBUTE_BY_NAME[name], v) for name, v in attributes.items()}
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    background = _BACKGROUND[a["background"]]
    image = Image.new("RGB", (size * supersample,) * 2, background)
    _draw_face(_Pen(image), a)
    small = np.asarray(image.reduce(supersample), dtype=np.float32)  # box filter: (size, size, 3)
    figure = ImageChops.difference(image, Image.new("RGB", image.size, background)).convert("L")
    figure = figure.point(lambda v: 255 if v else 0).reduce(supersample)  # not-background share
    mask = np.asarray(figure, dtype=np.float32)[..., None] / 255  # (size, size, 1)
    x = (np.arange(size) + 0.5) * 64 / size  # light: a soft left-right ramp over the figure
    f = (0.38 * a["lighting"] * np.tanh((x - 32) / 11.0))[None, :, None] * mask  # (size, size, 1)
    lit = np.where(f > 0, small + (255 - small) * f, small * (1 + f))
    return np.clip(np.rint(lit), 0, 255).astype(np.uint8)


def _draw_face(pen: _Pen, a: dict) -> None:
    """Back to front: shoulders, back hair, neck, ears, head, features, front hair, accessories."""
    skin = skin_color(a["skin_tone"])
    skin_edge, skin_dark = _shade(skin, 0.62), _shade(skin, 0.8)
    hair = _HAIR[a["hair_color"]]
    hair_edge = _shade(hair, 0.55) if a["hair_color"] != "black" else (70, 64, 64)
    beard = _against(_mix(hair, (30, 20, 15), 0.85), skin)
    brow = _against(_mix(hair, (40, 28, 22), 0.55), skin)
    cx, cy = 32.0, 30.0
    hw, hh = _HEAD[a["head_shape"]]
    eye_y, eye_dx = cy + 1.0, 5.2 + 0.25 * hw / 2
    mouth_y, chin = cy + 11.0, cy + hh

    shirt = _SHIRT[a["shirt_color"]]
    pen.ellipse(cx, 67, 27, 15.5, fill=shirt, outline=_shade(shirt, 0.6), width=0.8)
    _back_hair(pen, a["hair_style"], cx, cy, hw, hh, hair, hair_edge)
    pen.light = lambda colour: expose(colour, a["exposure"])  # neck, ears, face and its features
    pen.box(cx - 5, cy + 6, cx + 5, 55, 1.5, fill=skin_dark, outline=skin_edge, width=0.6)
    pen.polygon([(cx - 5.6, 51.8), (cx + 5.6, 51.8), (cx, 57.5)], fill=skin_dark)  # V collar
    for side in (-1, 1):  # ears sit half behind the head
        pen.ellipse(cx + side * hw, eye_y + 1, 2.6, 3.8, fill=skin, outline=skin_edge, width=0.7)
        pen.ellipse(cx + side * (hw + 0.5), eye_y + 1, 1.1, 2.0, fill=skin_dark)
    if a["head_shape"] == "square":
        pen.box(cx - hw, cy - hh, cx + hw, cy + hh, 5.0, fill=skin, outline=skin_edge, width=0.8)
    else:
        pen.ellipse(cx, cy, hw, hh, fill=skin, outline=skin_edge, width=0.8)
    if a["hair_style"] == "bald":  # a sheen on the scalp
        pen.ellipse(cx - 3, cy - hh + 4, 4.0, 2.0, fill=_mix((255, 255, 255), skin, 0.25))

    if a["facial_hair"] == "stubble":  # sparse dots on the jaw: a texture that averages away
        dot = _against(beard, skin, 80)
        for u, v in _SPOTS[:50]:
            t, r = math.radians(200 + 140 * u), 0.55 + 0.42 * v
            pen.ellipse(cx + r * (hw - 1) * math.cos(t), cy + 3 - r * (hh - 4) * math.sin(t),
                        0.55, 0.55, fill=dot)
    if a["freckles"] == "freckles":
        dot = _mix((120, 60, 30), skin, 0.45) if a["skin_tone"] < 0.5 else _shade(skin, 0.55)
        for u, v in _SPOTS[130:180]:
            side = -1 if u < 0.5 else 1
            pen.ellipse(cx + side * (2.0 + 6.8 * (2 * u % 1)), eye_y + 3.0 + 3.6 * v, 0.6, 0.6,
                        fill=dot)

    for side in (-1, 1):  # eyes and eyebrows
        x = cx + side * eye_dx
        _eye(pen, x, eye_y, _IRIS[a["iris_color"]])
        inner, outer, by = x - side * 3.2, x + side * 3.4, eye_y - 4.3
        pts = {"straight": [(inner, by), (outer, by)],
               "arched": [(inner, by + 0.8), (x, by - 1.9), (outer, by + 1.2)],
               "slanted": [(inner, by + 1.6), (outer, by - 1.8)]}[a["eyebrows"]]
        pen.line(pts, brow, 1.7)

    shadow_side = 1 if a["lighting"] <= 0 else -1  # nose: bridge shaded away from the light
    pen.polygon([(cx + shadow_side * 0.3, eye_y - 1.5), (cx + shadow_side * 2.6, cy + 6.3),
                 (cx, cy + 7.3)], fill=_shade(skin, 0.72))
    pen.ellipse(cx, cy + 6.4, 2.6, 1.7, fill=skin_dark, outline=skin_edge, width=0.55)
    for side in (-1, 1):
        pen.ellipse(cx + side * 1.1, cy + 7.0, 0.6, 0.45, fill=_shade(skin, 0.4))

    lip = _mix((150, 40, 50), skin_edge, 0.55)
    if a["mouth"] == "neutral":
        pen.line([(cx - 3.8, mouth_y + 0.3), (cx + 3.8, mouth_y + 0.3)], lip, 1.1)
    elif a["mouth"] == "smile":
        pen.line(_arc(cx, mouth_y - 2.2, 5.4, 3.2, 200, 340, 12), lip, 1.2)
    else:  # grin: open mouth with a row of teeth
        pen.polygon(_arc(cx, mouth_y - 0.8, 5.2, 4.0, 180, 360, 16), fill=(90, 20, 30),
                    outline=lip, width=0.7)
        pen.box(cx - 3.9, mouth_y - 0.5, cx + 3.9, mouth_y + 0.9, 0.5, fill=(250, 250, 245))
    if a["facial_hair"] in ("moustache", "goatee"):
        pen.polygon([(cx - 6.0, mouth_y + 0.4), (cx - 3.2, cy + 7.8), (cx + 3.2, cy + 7.8),
                     (cx + 6.0, mouth_y + 0.4), (cx + 4.0, mouth_y - 1.3), (cx, mouth_y - 1.7),
                     (cx - 4.0, mouth_y - 1.3)], fill=beard)
    if a["facial_hair"] == "goatee":
        pen.polygon([(cx - 2.6, mouth_y + 2.5), (cx + 2.6, mouth_y + 2.5), (cx + 1.8, chin + 0.8),
                     (cx - 1.8, chin + 0.8)], fill=beard)

    pen.light = None
    _front_hair(pen, a["hair_style"], cx, cy, hw, hh, hair, hair_edge)
    for side in (-1, 1) if a["earrings"] != "none" else ():
        x, y = cx + side * (hw + 0.6), eye_y + 4.6
        if a["earrings"] == "studs":
            pen.ellipse(x, y, 1.2, 1.2, fill=_GOLD, outline=_shade(_GOLD, 0.6), width=0.4)
        else:
            pen.ellipse(x, y + 2.2, 2.1, 2.5, outline=_GOLD, width=0.9)
    if a["glasses"] != "none":  # bold frames, a bridge and arms to the ears
        for side in (-1, 1):
            x = cx + side * eye_dx
            if a["glasses"] == "round":
                pen.ellipse(x, eye_y, 4.5, 4.5, outline=_FRAME, width=1.1)
            else:
                pen.box(x - 4.8, eye_y - 3.6, x + 4.8, eye_y + 3.4, 1.0, outline=_FRAME, width=1.1)
            pen.line([(x + side * 4.5, eye_y - 1), (cx + side * hw, eye_y - 0.5)], _FRAME, 0.9)
        pen.line([(cx - eye_dx + 4.2, eye_y - 1), (cx + eye_dx - 4.2, eye_y - 1)], _FRAME, 0.9)


def dataset(n: int, seed: int, size: int = 64, processes: int = 1,
            **overrides) -> tuple[np.ndarray, list[dict]]:
    """(n, size, size, 3) uint8 faces and their attribute dicts; same seed, same images.

    Raises ValueError for processes < 1 and whatever ``sample_attributes`` refuses.
    """
    if not isinstance(processes, int) or processes < 1:
        raise ValueError(f"processes must be an int >= 1, got {processes!r}")
    faces = sample_attributes(n, seed, **overrides)
    if processes > 1 and n > 1:
        with Pool(processes) as pool:
            images = pool.starmap(render, [(face, size) for face in faces], chunksize=64)
    else:
        images = [render(face, size) for face in faces]
    return np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8), faces


def stream(batch: int, first_seed: int, size: int = 64, workers: int = 0, **overrides) -> Iterator[np.ndarray]:
    """Endless (batch, size, size, 3) uint8 faces: batch k is ``dataset(batch, first_seed + k, size, **overrides)``.

    With ``workers`` > 0 that many processes render ahead (two batches each in flight, delivered in
    order); they ignore Ctrl-C and stop when the caller closes the generator. The attributes of batch k
    are ``sample_attributes(batch, first_seed + k, **overrides)``.
    """
    if workers == 0:
        for seed in range(first_seed, 2 ** 63):
            yield dataset(batch, seed, size, **overrides)[0]
        return
    with Pool(workers, initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN)) as pool:
        pending = deque(pool.apply_async(dataset, (batch, first_seed + k, size), overrides)
                        for k in range(2 * workers))
        for seed in range(first_seed + len(pending), 2 ** 63):
            images = pending.popleft().get()[0]
            pending.append(pool.apply_async(dataset, (batch, seed, size), overrides))
            yield images
