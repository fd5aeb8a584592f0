"""The one preprocessing definition (CONTRACTS "Bundle": Preprocessing), numpy and Pillow only.

Training, calibration, verification, ``predict`` and ``evaluate`` all call these functions, so a
model sees the same pixels in deployment as in training: decode with Pillow (one JPEG decoder
everywhere; decoders differ in their last bits), EXIF orientation applied, 8-bit RGB; an optional
central crop; Pillow's BILINEAR resize (antialiased when shrinking); (x - mean) / std in float32;
for a quantized input, q = clamp(round_half_away(x / scale) + zero_point).
TF-free on purpose: the device side and ``predict`` use it without TensorFlow.
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
CROPS = ("none", "center")
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def open_image(source) -> Image.Image:
    """A path, bytes or file object -> an opened (not yet decoded) Pillow image."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return Image.open(io.BytesIO(source))
    return Image.open(os.fsdecode(source) if isinstance(source, (str, os.PathLike)) else source)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB, EXIF orientation applied, alpha dropped (not composited).

    16-bit grey keeps its high byte, as Pillow's own 16-bit RGB PNG reader does (Pillow's
    ``convert`` would clip every value above 255 to white).
    """
    image = ImageOps.exif_transpose(image)
    if image.mode in _SIXTEEN_BIT:
        wide = np.clip(np.asarray(image, dtype=np.int64), 0, 65535) >> 8
        image = Image.fromarray(wide.astype(np.uint8))
    return image if image.mode == "RGB" else image.convert("RGB")


def decode(source) -> Image.Image:
    """Decode a path, bytes or file object to an 8-bit RGB Pillow image (first frame)."""
    with open_image(source) as image:
        return to_rgb(image)


def center_crop(image: Image.Image, aspect: float) -> Image.Image:
    """The largest central box with the model's aspect ratio (width / height)."""
    w, h = image.size
    cw, ch = (round(h * aspect), h) if w / h > aspect else (w, round(w / aspect))
    left, top = (w - cw) // 2, (h - ch) // 2
    return image.crop((left, top, left + cw, top + ch))


def fit(image: Image.Image, size: tuple[int, int], crop: str = "none") -> Image.Image:
    """Crop (``center``) or not (``none``), then resize to ``size`` = (height, width) with
    Pillow's BILINEAR: a triangle filter whose support widens with the downscale factor."""
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {CROPS}, not {crop!r}")
    height, width = size
    if crop == "center":
        image = center_crop(image, width / height)
    return image.resize((width, height), Image.BILINEAR)


def load_pixels(source, size: tuple[int, int], crop: str = "none") -> np.ndarray:
    """decode -> fit: uint8 [H, W, 3], the pixels every model input is made from."""
    return np.asarray(fit(decode(source), size, crop))


def normalize(pixels: np.ndarray, normalization: dict) -> np.ndarray:
    """uint8 (or float) pixels -> float32 (x - mean) / std, per channel."""
    mean = np.asarray(normalization["mean"], np.float32)
    std = np.asarray(normalization["std"], np.float32)
    return (np.asarray(pixels, np.float32) - mean) / std


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round half away from zero (numpy's own rounding is half-to-even)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize_input(x: np.ndarray, dtype: str, quantization: dict | None) -> np.ndarray:
    """Normalized float32 -> the model's input type: q = clamp(round(x / scale) + zero_point)."""
    if quantization is None:
        return x.astype(dtype)
    info = np.iinfo(dtype)
    q = round_half_away(x.astype(np.float64) / quantization["scale"]) + quantization["zero_point"]
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize_output(y: np.ndarray, quantization: dict | None) -> np.ndarray:
    """The model's output as float32 (scale * (q - zero_point) for a quantized output)."""
    if quantization is None:
        return y.astype(np.float32)
    return (quantization["scale"] * (y.astype(np.float32) - quantization["zero_point"])).astype(np.float32)


def model_input(source, input_spec: dict) -> np.ndarray:
    """An image file -> the float32 [1, H, W, 3] a bundle's manifest ``input`` asks for."""
    _, height, width, _ = input_spec["shape"]
    if input_spec["resize"] != "bilinear":
        raise ValueError(f"resize {input_spec['resize']!r}: only bilinear is defined")
    pixels = load_pixels(source, (height, width), input_spec.get("crop", "none"))
    return normalize(pixels, input_spec["normalization"])[None]
