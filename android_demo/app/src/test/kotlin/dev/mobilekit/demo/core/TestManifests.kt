package dev.mobilekit.demo.core

import org.json.JSONObject

/** A contract-shaped manifest.json for unit tests, changed through [edit]. */
fun manifestJson(edit: JSONObject.() -> Unit = {}): String {
    val root = JSONObject(
        """
        {"schema_version": 1, "name": "mobilenet_v2-separable-int8-a0.5", "model_file": "model.tflite",
         "model_sha256": "00", "model_bytes": 10, "labels_file": "labels.txt",
         "builder": {"name": "mobilenet_v2", "kind": "separable", "alpha": 0.5}, "trained": true,
         "quantization": "int8", "sparsity": null, "params": 1, "macs": 1,
         "input": {"name": "in:0", "shape": [1, 4, 6, 3], "dtype": "int8", "layout": "NHWC",
                   "color": "RGB", "resize": "bilinear", "crop": "none",
                   "normalization": {"mean": [127.5, 127.5, 127.5], "std": [127.5, 127.5, 127.5]},
                   "quantization": {"scale": 0.0078125, "zero_point": -1}},
         "output": {"name": "out:0", "shape": [1, 5], "dtype": "int8", "semantics": "logits",
                    "quantization": {"scale": 0.25, "zero_point": 3}}}
        """,
    )
    root.edit()
    return root.toString()
}

fun manifest(edit: JSONObject.() -> Unit = {}): Manifest = Manifests.parse(manifestJson(edit))
