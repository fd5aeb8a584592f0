"""``mobilekit predict``: classify images with a bundle, preprocessing exactly as its manifest says.

TF-free (numpy, Pillow, ai-edge-litert): the same steps an app performs, so the bundle's
contract (CONTRACTS.md "Bundle") is tested here rather than described.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mobilekit.data.preprocess import IMAGE_EXTENSIONS, dequantize_output, model_input, quantize_input
from mobilekit.deploy.bundle import read_bundle
from mobilekit.errors import UsageError
from mobilekit.runtime import graph, isolate

def preprocess(path: str | Path, input_spec: dict) -> np.ndarray:
    """An image file -> the float32 [1, H, W, 3] its manifest's ``input`` asks for (the one
    definition, ``data.preprocess.model_input``); an unreadable file is a UsageError naming it."""
    try:
        return model_input(path, input_spec)
    except OSError as exc:  # Pillow's UnidentifiedImageError and truncated files
        raise UsageError(f"{path}: not a readable image ({exc.__class__.__name__})") from exc
    except ValueError as exc:  # a manifest asking for a resize or crop that is not defined
        raise UsageError(f"{path}: {exc}") from exc


def image_paths(items: list[str]) -> list[Path]:
    """Files as given; directories expand to their image files in name order."""
    paths = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
            if not found and any(p.suffix.lower() in IMAGE_EXTENSIONS for p in path.glob("*/*")):
                raise UsageError(f"{item}: a folder of class sub-folders; to measure accuracy on "
                                 f"it use: mobilekit evaluate BUNDLE --data {item}")
            paths += found
        elif path.is_file():
            paths.append(path)
        else:
            raise UsageError(f"{item}: no such image file or directory")
    if not paths:
        raise UsageError(f"{' '.join(items)}: no images found")
    return paths


class Classifier:
    """A bundle loaded once and applied to many images."""

    def __init__(self, bundle_dir: str | Path):
        from ai_edge_litert.interpreter import Interpreter

        self.dir = Path(bundle_dir)
        self.manifest = read_bundle(self.dir)
        self.labels = (self.dir / self.manifest["labels_file"]).read_text("utf-8").splitlines()
        self.interpreter = Interpreter(model_path=str(self.dir / self.manifest["model_file"]))
        self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()[0]["index"]
        self._out = self.interpreter.get_output_details()[0]["index"]

    def scores(self, path: str | Path) -> np.ndarray:
        """The float output row for one image."""
        spec, out = self.manifest["input"], self.manifest["output"]
        x = quantize_input(preprocess(path, spec), spec["dtype"], spec["quantization"])
        self.interpreter.set_tensor(self._in, x)
        self.interpreter.invoke()
        return dequantize_output(self.interpreter.get_tensor(self._out), out["quantization"])[0]

    def top(self, path: str | Path, k: int) -> list[dict]:
        """The ``k`` best classes of one image: [{"index", "label", "score"}]."""
        row = self.scores(path)
        order = np.argsort(-row, kind="stable")[:k]
        label = lambda i: self.labels[i] if i < len(self.labels) else str(i)  # noqa: E731
        return [{"index": int(i), "label": label(int(i)), "score": float(row[i])} for i in order]


def classify(bundle_dir: str, images: list[str], top: int) -> list[dict]:
    """{"image", "top"} per image: what ``predict`` runs in a child process (see isolate)."""
    classifier = Classifier(bundle_dir)
    return [{"image": image, "top": classifier.top(image, top)} for image in images]


def predict(bundle: str | Path, images: list[str], *, top: int = 5) -> dict:
    """``mobilekit predict``: the contract's ``{"bundle", "semantics", "results"}``.

    The bundle and its model are checked here; the model runs in a child process (see
    isolate), so an untrusted one cannot crash the caller."""
    if top < 1:
        raise UsageError(f"--top {top}: must be at least 1")
    manifest = read_bundle(bundle)
    model = graph.check_tflite(Path(bundle) / manifest["model_file"])
    paths = [str(p) for p in image_paths(images)]
    results = isolate.call("mobilekit.deploy.predict:classify", str(bundle), paths, top, what=model)
    return {"bundle": str(bundle), "semantics": manifest["output"]["semantics"], "results": results}
