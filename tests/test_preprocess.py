"""The one preprocessing definition: decoding as CONTRACTS says, and training = serving.

tests/data/chelsea.jpg: "Chelsea the cat" from scikit-image's sample data (skimage/data/chelsea.png,
re-encoded as JPEG quality 88), CC0 by the photographer, Stefan van der Walt.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mobilekit.data import NORMALIZATION
from mobilekit.data.preprocess import decode, fit, load_pixels

PHOTO = Path(__file__).parent / "data" / "chelsea.jpg"


def _spec(size, crop="none"):
    return {"shape": [1, size[0], size[1], 3], "resize": "bilinear", "crop": crop,
            "normalization": NORMALIZATION}


# --- decoding --------------------------------------------------------------------------------

def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (20, 0, 40, 20))  # left half red, right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display": the left edge goes to the top
    image.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    pixels = np.asarray(decode(tmp_path / "phone.jpg"), np.int32)
    assert pixels.shape == (40, 20, 3)
    assert pixels[5, 10, 0] > 200 and pixels[5, 10, 2] < 50  # red on top
    assert pixels[35, 10, 2] > 200 and pixels[35, 10, 0] < 50  # blue below


@pytest.mark.parametrize("make, rgb", [
    (lambda: Image.new("L", (6, 4), 77), (77, 77, 77)),
    (lambda: Image.new("1", (6, 4), 1), (255, 255, 255)),
    (lambda: Image.new("LA", (6, 4), (90, 0)), (90, 90, 90)),
    (lambda: Image.new("RGBA", (6, 4), (10, 20, 30, 0)), (10, 20, 30)),  # alpha dropped
    (lambda: Image.new("RGB", (6, 4), (1, 2, 3)).convert("P", palette=Image.ADAPTIVE), (1, 2, 3)),
    (lambda: Image.fromarray(np.full((4, 6), 40000, np.uint16)), (156, 156, 156)),  # 40000 >> 8
])
def test_every_mode_becomes_8_bit_rgb(tmp_path, make, rgb):
    make().save(tmp_path / "x.png")
    pixels = np.asarray(decode(tmp_path / "x.png"))
    assert pixels.dtype == np.uint8 and pixels.shape == (4, 6, 3)
    assert np.all(pixels == rgb)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "print.jpg", quality=95)
    pixels = np.asarray(decode(tmp_path / "print.jpg"), np.int32)
    assert pixels.shape == (16, 16, 3)
    assert np.abs(pixels - (255, 0, 0)).max() <= 4


def test_bytes_and_paths_decode_alike():
    assert np.array_equal(np.asarray(decode(PHOTO.read_bytes())), np.asarray(decode(PHOTO)))


def test_center_crop_then_resize():
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 255, 0), (10, 0, 30, 20))  # the central 20 x 20 square is green
    cropped = np.asarray(fit(image, (8, 8), "center"))
    squeezed = np.asarray(fit(image, (8, 8), "none"))
    assert np.all(cropped == (0, 255, 0))
    assert squeezed[:, 0, 0].min() > 0  # without a crop the red sides stay in the picture
    assert np.asarray(fit(image, (5, 9))).shape == (5, 9, 3)  # (height, width)


def test_tf_antialiased_resize_agrees_with_the_contract_within_one_level():
    """CONTRACTS: tf.image.resize(..., "bilinear", antialias=True) is within one level of Pillow."""
    from mobilekit.keras import tf

    pixels = np.asarray(decode(PHOTO))
    for size in [(96, 96), (224, 160), (640, 640)]:
        pillow = np.asarray(fit(Image.fromarray(pixels), size), np.int32)
        graph = tf.image.resize(pixels, size, "bilinear", antialias=True).numpy()
        assert np.abs(np.round(graph) - pillow).max() <= 1, size


# --- training sees what serving sees -----------------------------------------------------------

def _photos(tmp_path):
    """The photo as a large camera-sized picture and a square one, each as PNG and as JPEG."""
    photo = decode(PHOTO)  # 451 x 300
    large = photo.resize((1804, 1200), Image.BICUBIC)
    square = photo.crop((75, 0, 375, 300))
    paths = {}
    for name, image in (("large", large), ("square", square), ("small", photo)):
        for ext, options in (("png", {}), ("jpg", {"quality": 90})):
            paths[name, ext] = tmp_path / f"{name}.{ext}"
            image.save(paths[name, ext], **options)
    return paths


# (source picture, model input (H, W), crop): down- and upsampled, square and non-square
CASES = [("large", (224, 224), "none"), ("large", (96, 96), "center"), ("square", (224, 224), "none"),
         ("square", (512, 512), "none"), ("small", (640, 640), "none"), ("small", (120, 200), "center")]


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_training_pipeline_and_predict_see_the_same_pixels(tmp_path, ext):
    from mobilekit.data.pipeline import FileSplit
    from mobilekit.deploy.predict import preprocess as predict_preprocess

    paths = _photos(tmp_path)
    for source, size, crop in CASES:
        path = paths[source, ext]
        split = FileSplit([path], [0], size=size, crop=crop)
        trained_on = next(iter(split.dataset(batch_size=1)))[0].numpy()[0]
        served = predict_preprocess(path, _spec(size, crop))[0]
        assert trained_on.shape == served.shape == (*size, 3)
        levels = np.abs(trained_on - served) * 127.5
        if ext == "jpg":  # one decoder (Pillow) for both: exactly the same input
            assert np.array_equal(trained_on, served), (source, size, crop)
        else:
            assert levels.max() <= 1.0 + 1e-4, (source, size, crop)


def test_training_pixels_differ_from_the_old_unantialiased_resize():
    """Why the pipeline changed: plain bilinear (what training used) is far from Pillow."""
    from mobilekit.keras import tf

    pixels = np.asarray(decode(PHOTO))
    old = np.round(tf.image.resize(pixels, (96, 96), "bilinear").numpy())
    assert np.abs(old - load_pixels(PHOTO, (96, 96))).max() > 20
