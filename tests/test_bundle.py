"""Bundle names, the manifest schema and reading bundles back."""

import copy
import json

import jsonschema
import pytest

from mobilekit.nets.config import BuilderConfig
from mobilekit.deploy.bundle import bundle_name, read_bundle, validate_manifest
from mobilekit.errors import UsageError
from test_export import export, tiny_model


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "b"
    export(tiny_model(), out, quant="int8", io="int8")
    return out


def test_bundle_name_follows_the_contract():

    assert bundle_name(BuilderConfig("mobilenet_v2"), "int8") == "mobilenet_v2-separable-int8"
    config = BuilderConfig("mobilenet_v3_small", kind="standard", alpha=0.5, resolution=96)
    assert bundle_name(config, "fp32") == "mobilenet_v3_small-standard-fp32-a0.5-r96"
    assert bundle_name(BuilderConfig("mobilenet_v1", alpha=0.25), "qat-int8") == "mobilenet_v1-separable-qat-int8-a0.25"
    assert bundle_name(None, "fp16", model_name="my_run") == "my_run-fp16"
    assert bundle_name(config, "int8", io="int8") == "mobilenet_v3_small-standard-int8-a0.5-r96-int8io"
    assert bundle_name(None, "int8", model_name="my_run", io="uint8") == "my_run-int8-uint8io"


def test_written_manifest_validates_and_reads_back(bundle):
    manifest = read_bundle(bundle)
    validate_manifest(manifest)
    assert manifest["input"]["quantization"]["scale"] > 0


@pytest.mark.parametrize("path, value", [
    (("schema_version",), 2),
    (("input", "shape"), [None, 24, 24, 3]),
    (("input", "shape"), [2, 24, 24, 3]),
    (("input", "crop"), "left"),
    (("output", "semantics"), "scores"),
    (("quantization",), "int4"),
    (("verification", "passed"), "yes"),
    (("delegation",), {}),
])
def test_schema_rejects_broken_manifests(bundle, path, value):
    manifest = copy.deepcopy(read_bundle(bundle))
    target = manifest
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validate_manifest(manifest)


def test_read_bundle_refuses_what_is_not_a_bundle(bundle, tmp_path):
    with pytest.raises(UsageError, match="not a bundle"):
        read_bundle(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(UsageError, match="invalid manifest"):
        read_bundle(tmp_path)
    manifest = read_bundle(bundle)
    del manifest["model_sha256"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UsageError, match="model_sha256"):
        read_bundle(tmp_path)
