"""Mutated .tflite files through ``inspect``, ``bench`` and ``summary``: every run ends in a clean
error or a result, never a signal death, a traceback or a hang (tflite_mutants has the mutations
and the driver; benchmarks/fuzz_campaign.py runs the long campaign)."""

import random
from pathlib import Path

import pytest
from tflite_mutants import KINDS, layout, make_mutants, mutate, run

from mobilekit.runtime import flatbuffer_check, graph

DATA = Path(__file__).parent / "data"
FOREIGN = {"mixer": DATA / "foreign_mixer.tflite", "loop": DATA / "foreign_loop.tflite"}


@pytest.fixture(scope="module")
def own_export(tmp_path_factory):
    """A MobileNet bundle made by mobilekit's own exporter: int8 with int8 io, tiny."""
    from mobilekit.data import NORMALIZATION
    from mobilekit.deploy.export import export_bundle
    from mobilekit.nets.config import BuilderConfig
    from mobilekit.nets.models import build_model

    out = tmp_path_factory.mktemp("fuzz") / "bundle"
    model = build_model(BuilderConfig("mobilenet_v1", alpha=0.25, resolution=32, classes=4))
    export_bundle(model, out, quant="int8", io="int8", name="v1", labels=list("abcd"), trained=False,
                  normalization=NORMALIZATION)
    return out / "model.tflite"


@pytest.mark.parametrize("path", sorted(FOREIGN.values()), ids=sorted(FOREIGN))
def test_foreign_models_pass_the_check_and_read(path):
    graph.check_tflite(path)
    assert graph.read_graph(path)[0], "the check passes real models it did not write"


def test_every_mutation_kind_changes_the_file():
    data = FOREIGN["mixer"].read_bytes()
    where, rng = layout(data), random.Random(0)
    for kind in KINDS:
        assert any(mutate(data, kind, rng, where) != data for _ in range(5)), kind


def test_check_names_what_is_wrong():
    data = bytearray(FOREIGN["mixer"].read_bytes())
    root = int.from_bytes(data[:4], "little")
    data[:4] = (len(data) + 64).to_bytes(4, "little")
    with pytest.raises(flatbuffer_check.MalformedModel, match="root offset: offset .* points outside the file"):
        flatbuffer_check.check(bytes(data))
    data[:4] = root.to_bytes(4, "little")
    flatbuffer_check.check(bytes(data))
    with pytest.raises(flatbuffer_check.MalformedModel, match="no TFL3"):
        flatbuffer_check.check(bytes(data[:6]))


@pytest.mark.slow
def test_mutants_end_in_a_clean_error_or_a_result(own_export, tmp_path):
    """~120 mutants of three models (one exported by mobilekit, two foreign), each through three
    commands in-process in a worker: exit codes 0/1/2 only."""
    mutants = list(make_mutants({"mobilekit_v1_int8": own_export, **FOREIGN}, count=120, seed=15, folder=tmp_path))
    report = run(mutants, time_limit=10, memory_mb=2048)
    assert report.problems() == []
    assert report.runs == 3 * len(mutants)
    assert set(report.exit_codes) <= {0, 1, 2}
    assert report.exit_codes[2] and report.exit_codes[0], "both clean refusals and results happen"
