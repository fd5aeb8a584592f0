"""mobilekit: standard vs depthwise-separable mobile vision models, from Keras to a measured device.

The Python face of every command, for Keras users (each returns the command's JSON document)::

    import mobilekit
    model = mobilekit.nets.mobilenet_v2(kind="separable", alpha=0.5, input_shape=(96, 96, 3),
                                        classes=10)                      # a tf_keras model
    config = mobilekit.BuilderConfig("mobilenet_v2", alpha=0.5, resolution=96)
    bundle = mobilekit.export(config, quant="int8")                      # {"bundle", "manifest"}
    rows = mobilekit.benchmark([bundle["bundle"]], threads=[1, 2])       # bench rows

Importing this package imports nothing heavy (a device copy ships this file with the TF-free
``mobilekit.runtime``): every name below is loaded when first used.
"""

import importlib

__version__ = "0.1.0"

#: public name -> "module:attribute" (a package when there is no attribute)
_LAZY = {
    "nets": "mobilekit.nets", "data": "mobilekit.data", "train": "mobilekit.train",
    "deploy": "mobilekit.deploy", "runtime": "mobilekit.runtime", "bench": "mobilekit.bench",
    "studies": "mobilekit.studies",
    "BuilderConfig": "mobilekit.nets.config:BuilderConfig",
    "summary": "mobilekit.nets.cost:summarize",
    "export": "mobilekit.deploy.export:export",
    "predict": "mobilekit.deploy.predict:predict",
    "inspect": "mobilekit.runtime.inspect:describe",
    "benchmark": "mobilekit.bench.schedule:benchmark",
    "compare": "mobilekit.studies.compare:compare",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'mobilekit' has no attribute {name!r}")
    module, _, attribute = _LAZY[name].partition(":")
    value = importlib.import_module(module)
    return getattr(value, attribute) if attribute else value


def __dir__():
    return sorted([*globals(), *_LAZY])
