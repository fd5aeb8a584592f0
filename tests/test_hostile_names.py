"""Names that break naive code: spaces, quotes, ``;``, ``$(...)``, backticks, ``|`` and non-ASCII in model
paths, bundle names, labels and image files go through the local, ssh and adb targets, the report
and the manifest unharmed, and run nothing."""

import json
import shutil
import subprocess
import sys

import pytest
from test_target_adb import SERIAL, phone  # noqa: F401 (fixture)
from test_target_adb import options as adb_options
from test_target_ssh import options as ssh_options
from test_target_ssh import ssh_config  # noqa: F401 (fixture)
from tflite_fixtures import tflite_models  # noqa: F401 (fixture)

from mobilekit.bench.targets import resolve_target
from mobilekit.data.folders import scan_folder
from mobilekit.errors import UsageError
from mobilekit.studies import report

# each marker file appears only if some word of the name ran as shell code
HOSTILE = "it's a \"model\" $(touch PWNED1) `touch PWNED2`; touch PWNED3 & | ü☃ 雪"
FAST = ["--runs", "2", "--warmup", "0", "--min-secs", "0"]


def _no_code_ran(*folders):
    for folder in folders:
        assert not [p for p in folder.rglob("PWNED*")], f"a name ran as code in {folder}"


@pytest.fixture
def hostile_models(tflite_models, tmp_path):
    """A hostile .tflite file and a hostile bundle directory whose manifest name is hostile too."""
    model = tmp_path / f"{HOSTILE}.tflite"
    shutil.copyfile(tflite_models["f32"], model)
    bundle = tmp_path / f"bundle {HOSTILE}"
    bundle.mkdir()
    shutil.copyfile(tflite_models["int8"], bundle / "model.tflite")
    manifest = {"name": f"{HOSTILE} | line\nbreak", "model_file": "model.tflite"}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    return [model, bundle]


def test_local_bench_rows_and_results_keep_hostile_names(hostile_models, tmp_path):
    results = tmp_path / f"results {HOSTILE}.jsonl"
    proc = subprocess.run([sys.executable, "-m", "mobilekit", "bench", *map(str, hostile_models), *FAST,
                           "--results", str(results), "--json"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert rows == [json.loads(line) for line in results.read_text("utf-8").splitlines()]
    assert sorted(r["model"] for r in rows) == sorted(map(str, hostile_models))
    assert sorted(r["name"] for r in rows) == sorted([HOSTILE, f"{HOSTILE} | line\nbreak"])
    _no_code_ran(tmp_path)


def test_ssh_target_runs_hostile_names_as_one_word(ssh_config, hostile_models, tmp_path):
    rows = resolve_target(ssh_config.url, ssh_options()).run([hostile_models[0], hostile_models[1] / "model.tflite"],
                                                             FAST)
    assert [r["error"] for r in rows] == [None, None]
    assert rows[0]["model"].endswith(f"{HOSTILE}.tflite")
    _no_code_ran(tmp_path, ssh_config.remote_tmp, ssh_config.remote_home)


def test_adb_target_runs_hostile_names_as_one_word(phone, hostile_models, tmp_path):
    target = resolve_target(f"adb:{SERIAL}", adb_options(remote_python=sys.executable))
    rows = target.run([hostile_models[0]], FAST)
    assert rows[0]["error"] is None and rows[0]["model"].endswith(f"{HOSTILE}.tflite")
    _no_code_ran(tmp_path, phone.device)


def test_report_table_keeps_one_row_per_variant_whatever_the_name():
    rows = [{"variant": f"{HOSTILE} | x\ny", "target": "local", "params": 1, "macs": 2, "median_ms": 1.0,
             "ci95": [0.9, 1.1]}]
    lines = report.format_table(rows).splitlines()
    assert len(lines) == 3 and all(line.startswith("|") and line.endswith("|") for line in lines)
    cells = lambda line: line.replace("\\|", "").count("|")  # noqa: E731
    assert cells(lines[2]) == cells(lines[0])
    assert HOSTILE.replace("|", "\\|") in lines[2]


def test_class_folders_with_hostile_names_are_labels(tmp_path):
    names = [HOSTILE.replace("/", ""), "ünïcödé", "  leading spaces"]
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.png").write_bytes(b"")
    _, _, classes = scan_folder(tmp_path)
    assert classes == sorted(names)


@pytest.mark.parametrize("bad", ["line\nbreak", "carriage\rreturn", "   ", "sep\u2028arator"])
def test_class_folder_that_cannot_be_one_label_line_is_refused(tmp_path, bad):
    for name in ("good", bad):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.png").write_bytes(b"")
    with pytest.raises(UsageError, match="cannot be one line of labels.txt") as error:
        scan_folder(tmp_path)
    assert "\n" not in str(error.value) and "\r" not in str(error.value)


@pytest.mark.slow
def test_export_and_predict_keep_hostile_labels_bundle_and_image_names(tmp_path, capsys, monkeypatch):
    from PIL import Image
    from test_export import CLASSES, RES, export, tiny_model

    from mobilekit.cli import main
    from mobilekit.deploy.bundle import read_bundle

    labels = [f"{HOSTILE} {i}" if i % 2 else f"`touch PWNED{i}` é{i}" for i in range(CLASSES)]
    bundle = tmp_path / f"bündle {HOSTILE}"
    export(tiny_model(), bundle, labels=labels, name=f"run {HOSTILE}-fp32")
    manifest = read_bundle(bundle)
    assert manifest["name"] == f"run {HOSTILE}-fp32"
    assert (bundle / "labels.txt").read_text("utf-8").splitlines() == labels
    image = tmp_path / f"photo {HOSTILE}.png"
    Image.new("RGB", (RES, RES), (200, 30, 60)).save(image)
    monkeypatch.chdir(tmp_path)
    assert main(["predict", str(bundle), str(image), "--top", str(CLASSES), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    [result] = out["results"]
    assert result["image"] == str(image)
    assert sorted(t["label"] for t in result["top"]) == sorted(labels)
    _no_code_ran(tmp_path)
