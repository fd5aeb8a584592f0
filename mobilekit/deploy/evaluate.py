"""``mobilekit evaluate``: accuracy of a bundle or a run directory on a labelled image folder.

The folder is read as the recipes read one (a sub-folder per class, corrupt files skipped and
named) and every image goes through the one preprocessing definition (``data.preprocess``), so
the numbers are those the model gives in deployment. A bundle is run with LiteRT exactly as
``predict`` runs it (TF-free); a run directory with its Keras model. ``--run`` beside a bundle
adds the share of images on which the bundle and that run's Keras model give the same answer.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mobilekit.data import NORMALIZATION, preprocess
from mobilekit.data.folders import labelled_files
from mobilekit.errors import UsageError
from mobilekit.fsutil import atomic_write_bytes

TOP_K = 5


class _Bundle:
    """A bundle's LiteRT model: scores of one image file at a time (as ``predict``)."""

    def __init__(self, path: Path):
        from mobilekit.deploy.predict import Classifier

        self.classifier = Classifier(path)
        self.labels, self.name = self.classifier.labels, self.classifier.manifest["name"]

    def scores(self, files: list[Path]) -> np.ndarray:
        return np.stack([self.classifier.scores(f) for f in files])


class _Run:
    """A run directory's (or .keras file's) Keras model, preprocessing as its run.json says."""

    def __init__(self, path: Path):
        from mobilekit.train import run_dir

        self.labels = run_dir.read_labels(path)
        if self.labels is None:
            raise UsageError(f"{path}: no labels.txt beside the model (class names unknown)")
        self.model = run_dir.load_keras(path)
        shape = [int(d) for d in self.model.input_shape[1:]]
        model_input = (run_dir.read_run(path) or {}).get("input", {})
        self.spec = {"resize": "bilinear", "normalization": NORMALIZATION, **model_input,
                     "shape": [1, *shape]}
        self.name = run_dir.run_dir_of(path).resolve().name

    def scores(self, files: list[Path]) -> np.ndarray:
        x = np.concatenate([preprocess.model_input(f, self.spec) for f in files])
        return self.model.predict(x, batch_size=len(x), verbose=0)


def load_model(path) -> _Bundle | _Run:
    """A bundle directory, a run directory or a .keras file."""
    path = Path(path)
    if (path / "manifest.json").is_file():
        return _Bundle(path)
    if (path / "model.keras").is_file() or (path.suffix == ".keras" and path.is_file()):
        return _Run(path)
    raise UsageError(f"{path}: not a bundle (manifest.json), run directory (model.keras) or "
                     ".keras file")


def evaluate(model_path, data_dir, *, out=None, run=None, batch_size: int = 32,
             progress: bool = True) -> dict:
    """The evaluate JSON (CONTRACTS ``evaluate``); writes OUT/confusion.png when ``out`` is given."""
    model = load_model(model_path)
    files, truth, classes, corrupt = labelled_files(data_dir, model.labels, of=str(model_path))
    reference = load_model(run) if run else None
    scores, agree = [], []
    for start in range(0, len(files), batch_size):
        chunk = files[start:start + batch_size]
        scores.append(model.scores(chunk))
        if reference is not None:
            agree.append(reference.scores(chunk).argmax(-1))
        if progress:
            _progress(start + len(chunk), len(files))
    scores = np.concatenate(scores)
    result = _metrics(scores, truth, model.labels, classes)
    result = {"model": str(model_path), "data": str(data_dir), "images": len(files),
              "skipped": corrupt, **result}
    if reference is not None:
        result["agreement"] = {"run": str(run),
                               "top1": float(np.mean(np.concatenate(agree) == scores.argmax(-1)))}
    result["confusion_png"] = None
    if out:
        png = Path(out) / "confusion.png"
        png.parent.mkdir(parents=True, exist_ok=True)
        _plot_confusion(png, scores.argmax(-1), truth, model.labels, classes, model.name)
        result["confusion_png"] = str(png)
    return result


def _metrics(scores: np.ndarray, truth: np.ndarray, labels: list[str], classes: list[str]) -> dict:
    k = min(TOP_K, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    predicted = top[:, 0]
    per_class = []
    for name in classes:
        c = labels.index(name)
        hits = int(np.sum((predicted == c) & (truth == c)))
        said = int(np.sum(predicted == c))
        support = int(np.sum(truth == c))
        per_class.append({"label": name, "precision": hits / said if said else 0.0,
                          "recall": hits / support if support else 0.0, "support": support})
    return {"top1": float(np.mean(predicted == truth)),
            "top5": float(np.mean(np.any(top == truth[:, None], axis=1))),
            "per_class": per_class}


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    end = "\n" if done == total else ""
    print(f"\revaluate [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end,
          file=sys.stderr, flush=True)


def _plot_confusion(path: Path, predicted, truth, labels, classes, name) -> None:
    """Rows: the folder's classes; columns: the same, plus "other" for any other label said."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    index = {labels.index(c): i for i, c in enumerate(classes)}
    other = any(p not in index for p in predicted)
    matrix = np.zeros((len(classes), len(classes) + other), np.int64)
    for t, p in zip(truth, predicted):
        matrix[index[t], index.get(p, len(classes))] += 1
    n = len(classes)
    fig, ax = plt.subplots(figsize=(2 + 0.45 * (n + other), 1.6 + 0.45 * n))
    ax.imshow(matrix / np.maximum(matrix.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n + other), classes + ["other"] * other, rotation=60, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 30:
        for (i, j), count in np.ndenumerate(matrix):
            if count:
                share = count / max(matrix[i].sum(), 1)
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                        color="white" if share > 0.5 else "black")
    ax.set_title(f"{name}: top-1 {np.mean(predicted == truth):.1%} on {len(truth)} images",
                 fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def format_evaluation(result: dict) -> str:
    """The human lines of one evaluation."""
    lines = [f"{result['model']} on {result['data']}: {result['images']} images"
             f" ({len(result['skipped'])} corrupt skipped): top-1 {result['top1']:.1%}, "
             f"top-5 {result['top5']:.1%}"]
    if "agreement" in result:
        lines.append(f"  same answer as {result['agreement']['run']}: "
                     f"{result['agreement']['top1']:.1%}")
    lines.append(f"  {'class':<24} {'precision':>9} {'recall':>7} {'support':>7}")
    lines += [f"  {c['label'][:24]:<24} {c['precision']:9.1%} {c['recall']:7.1%} {c['support']:7d}"
              for c in result["per_class"]]
    if result["confusion_png"]:
        lines.append(f"  confusion matrix: {result['confusion_png']}")
    return "\n".join(lines)
