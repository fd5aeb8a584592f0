"""The embedded default dataset: shapes and textures drawn with numpy, offline and deterministic.

Why generated: quickstart, tests and recipes need a dataset that needs no download, no files in the
wheel and works at any resolution. It is made hard enough that architecture and quantization
choices show up in accuracy: every image has a random background gradient, random colours, random
scale, aspect, position and rotation, clutter (small blobs and strokes, one of which may cross the
shape) and pixel noise; a share of scenes is faint and noisy, so no model reaches 100 %.

Scenes are drawn in chunks of ``CHUNK`` images, each chunk from its own seed ``(seed, split,
chunk)``, so an image does not depend on ``count`` (a shorter list is a prefix of a longer one),
and geometry is sampled in relative units, so an index shows the same scene at any resolution.
"""

from __future__ import annotations

import numpy as np

from mobilekit.data import preprocess

EMBEDDED_LABELS: list[str] = [
    "circle", "square", "triangle", "star", "cross", "ring", "stripes", "checker",
]
NORMALIZATION: dict = {"mean": [127.5, 127.5, 127.5], "std": [127.5, 127.5, 127.5]}
SPLITS = ("train", "val", "test")
DEFAULT_COUNTS = {"train": 6000, "val": 1000, "test": 2000}
CHUNK = 256
# Difficulty knobs: shape radius as a fraction of half the image, colour distance from the
# background (RGB units), noise sigma. A share of HARD scenes (faint shape in strong noise) caps
# accuracy below 100 %, so long training of a big variant cannot saturate the task and kind or
# quantization differences stay visible (without it MobileNetV2 a0.5 at 64 px reached 99.2 %).
SCALE = (0.5, 0.8)
CONTRAST = (100.0, 220.0)
NOISE = (2.0, 6.0)
HARD = 0.08
HARD_CONTRAST = (6.0, 30.0)
HARD_NOISE = (8.0, 14.0)


def normalize(images: np.ndarray) -> np.ndarray:
    """RGB uint8 -> the float32 models take: (pixel - 127.5) / 127.5, in [-1, 1]."""
    return preprocess.normalize(images, NORMALIZATION)


def embedded_arrays(split: str, *, resolution: int, count: int | None = None,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, R, R, 3] and labels int64 [N] of one split; same arguments, same arrays."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if int(resolution) < 8:
        raise ValueError(f"resolution must be >= 8, not {resolution}")
    count = DEFAULT_COUNTS[split] if count is None else int(count)
    if count < 0:
        raise ValueError(f"count must be >= 0, not {count}")
    images = np.empty((count, resolution, resolution, 3), np.uint8)
    labels = np.empty((count,), np.int64)
    for chunk, start in enumerate(range(0, count, CHUNK)):
        rng = np.random.default_rng([seed, SPLITS.index(split), chunk])
        n = min(CHUNK, count - start)
        images[start:start + n], labels[start:start + n] = _draw(rng, CHUNK, resolution, n)
    return images, labels


class _Float32Random:
    """The generator's draws as float32, so all image arithmetic stays in float32 (2x faster)."""

    def __init__(self, generator: np.random.Generator):
        self.generator = generator

    def uniform(self, low, high, size):
        return self.generator.uniform(low, high, size).astype(np.float32)

    def random(self, size):
        return self.generator.random(size, dtype=np.float32)

    def permutation(self, x):
        return self.generator.permutation(x)

    def standard_normal(self, size):
        return self.generator.standard_normal(size, dtype=np.float32)


# Each shape is a signed distance (positive inside, in the shape's own units where its radius is
# about 1) of local coordinates u, v; edges are anti-aliased from it.

def _polygon(u, v, sides: int, apothem: float):
    angles = 2 * np.pi * np.arange(sides) / sides + np.pi / 2
    return np.min([apothem - (u * np.cos(a) + v * np.sin(a)) for a in angles], axis=0)


def _star(u, v):
    r, a = np.hypot(u, v), np.arctan2(v, u)
    tip = np.abs((a * 5 / (2 * np.pi) + 0.25) % 1 - 0.5) * 2  # 1 at the five tips, 0 between
    return 0.5 * (0.42 + 0.58 * tip ** 1.5 - r)


def _cross(u, v):
    au, av = np.abs(u), np.abs(v)
    return np.maximum(np.minimum(0.3 - au, 0.95 - av), np.minimum(0.3 - av, 0.95 - au))


def _stripes(u, v):
    w = 2 * np.pi * 1.6
    return np.minimum(1 - np.hypot(u, v), np.sin(u * w) / w)


def _checker(u, v):
    w = 2 * np.pi * 1.1
    return np.minimum(0.85 - np.maximum(np.abs(u), np.abs(v)), np.sin(u * w) * np.sin(v * w) / w)


_SHAPES = {
    "circle": lambda u, v: 1 - np.hypot(u, v),
    "square": lambda u, v: _polygon(u, v, 4, 0.75),
    "triangle": lambda u, v: _polygon(u, v, 3, 0.55),
    "star": _star,
    "cross": _cross,
    "ring": lambda u, v: np.minimum(1 - np.hypot(u, v), np.hypot(u, v) - 0.6),
    "stripes": _stripes,
    "checker": _checker,
}


def _local(x, y, cx, cy, scale, angle, aspect=1.0):
    """Pixel grid -> each image's rotated, scaled shape coordinates."""
    dx, dy = (x - cx[:, None, None]) / scale[:, None, None], (y - cy[:, None, None]) / scale[:, None, None]
    c, s = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    return (c * dx + s * dy) * np.asarray(aspect)[..., None, None], -s * dx + c * dy


def _paint(img, dist, scale, colour, resolution):
    """Alpha-blend ``colour`` where ``dist`` > 0, with a one-pixel soft edge."""
    alpha = np.clip(dist * (scale[:, None, None] * (resolution / 2)) + 0.5, 0, 1)
    where = np.nonzero(alpha)  # most clutter covers few pixels: blend only those
    a = alpha[where][:, None]
    img[where] += a * (colour[where[0]] - img[where])


def _segment(x, y, n, rng):
    """Distance field of a random stroke per image (positive inside)."""
    p = rng.uniform(-1, 1, (n, 2))
    angle, length = rng.uniform(0, np.pi, n), rng.uniform(0.3, 0.9, n)
    width = rng.uniform(0.02, 0.05, n)
    u, v = _local(x, y, p[:, 0], p[:, 1], np.ones(n, np.float32), angle)
    along = np.clip(u, -length[:, None, None] / 2, length[:, None, None] / 2)
    return width[:, None, None] - np.hypot(u - along, v)


def _draw(generator: np.random.Generator, n: int, resolution: int, keep: int):
    """Draw ``n`` scenes (so the random stream does not depend on ``keep``) and keep the first."""
    rng = _Float32Random(generator)
    labels = rng.permutation(np.arange(n) % len(EMBEDDED_LABELS))
    grid = (np.arange(resolution, dtype=np.float32) + 0.5) / resolution * 2 - 1
    y, x = np.meshgrid(grid, grid, indexing="ij")
    x, y = x[None], y[None]

    # Background: a gradient between two random colours.
    c0, c1 = rng.uniform(0, 255, (n, 3)), rng.uniform(0, 255, (n, 3))
    direction = rng.uniform(0, 2 * np.pi, n)
    t = (np.cos(direction)[:, None, None] * x + np.sin(direction)[:, None, None] * y + 1.5) / 3
    img = (c0[:, None, None] * (1 - t[..., None]) + c1[:, None, None] * t[..., None]).astype(np.float32)

    # Clutter under the shape: small blobs and strokes.
    for _ in range(2):
        present = rng.random(n) < 0.4
        blob_scale = rng.uniform(0.05, 0.12, n)
        u, v = _local(x, y, rng.uniform(-1, 1, n), rng.uniform(-1, 1, n), blob_scale,
                      rng.uniform(0, np.pi, n), rng.uniform(0.5, 1.0, n))
        _paint(img, np.where(present[:, None, None], 1 - np.hypot(u, v), -1), blob_scale,
               rng.uniform(0, 255, (n, 3)), resolution)
        present = rng.random(n) < 0.25
        _paint(img, np.where(present[:, None, None], _segment(x, y, n, rng), -1),
               np.ones(n, np.float32), rng.uniform(0, 255, (n, 3)), resolution)

    # The shape: a colour that differs from the background's mean by a random amount (little in
    # the HARD scenes), random scale, aspect, position and rotation.
    scale = rng.uniform(SCALE[0], SCALE[1], n)
    cx, cy = (rng.uniform(-1, 1, (2, n)) * (1 - 0.8 * scale))
    u, v = _local(x, y, cx, cy, scale, rng.uniform(0, 2 * np.pi, n), rng.uniform(0.85, 1.0, n))
    dist = np.empty_like(u)
    for k, name in enumerate(EMBEDDED_LABELS):
        idx = labels == k
        dist[idx] = _SHAPES[name](u[idx], v[idx])
    offset = rng.standard_normal((n, 3))
    hard = rng.random(n) < HARD
    contrast = np.where(hard, rng.uniform(*HARD_CONTRAST, n), rng.uniform(*CONTRAST, n))
    offset *= contrast[:, None] / np.linalg.norm(offset, axis=1, keepdims=True)
    colour = np.clip((c0 + c1) / 2 + offset, 0, 255)
    _paint(img, dist, scale, colour, resolution)

    # A stroke over the shape in some images, then sensor noise.
    over = rng.random(n) < 0.1
    _paint(img, np.where(over[:, None, None], _segment(x, y, n, rng), -1), np.ones(n, np.float32),
           rng.uniform(0, 255, (n, 3)), resolution)
    sigma = np.where(hard, rng.uniform(*HARD_NOISE, n), rng.uniform(*NOISE, n))
    img += rng.standard_normal(img.shape) * sigma[:, None, None, None]
    return np.clip(img[:keep] + 0.5, 0, 255).astype(np.uint8), labels[:keep].astype(np.int64)
