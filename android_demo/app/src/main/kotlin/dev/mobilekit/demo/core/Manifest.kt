package dev.mobilekit.demo.core

import org.json.JSONArray
import org.json.JSONException
import org.json.JSONObject

/** Affine quantization of a tensor: real = scale * (q - zeroPoint). */
data class Quantization(val scale: Double, val zeroPoint: Int)

/** x = (pixel - mean) / std per RGB channel. */
data class Normalization(val mean: List<Double>, val std: List<Double>)

/** The model input as the bundle's manifest describes it (CONTRACTS.md, "Bundle"). */
data class InputSpec(
    val name: String,
    val shape: List<Int>,
    val dtype: String,
    val quantization: Quantization?,
    val layout: String,
    val color: String,
    val resize: String,
    val crop: String,
    val normalization: Normalization,
) {
    val height: Int get() = shape[1]
    val width: Int get() = shape[2]
}

/** The model output; [semantics] is "logits", "probabilities" or "segmentation-logits". */
data class OutputSpec(
    val name: String,
    val shape: List<Int>,
    val dtype: String,
    val quantization: Quantization?,
    val semantics: String,
)

/** The builder and conv kind a bundle came from; [kind] is "hybrid-SSDD..." for a per-stage list. */
data class BuilderInfo(val name: String, val kind: String)

/** What the app needs from manifest.json; other fields are read by other tools and ignored here. */
data class Manifest(
    val name: String,
    val modelFile: String,
    val labelsFile: String,
    val builder: BuilderInfo?,
    val quantization: String,
    val input: InputSpec,
    val output: OutputSpec,
)

/** A manifest that cannot be read; the message names the file and the field. */
class ManifestException(message: String) : Exception(message)

/** Reads manifest.json (schema version 1) with org.json, which Android ships in its platform. */
object Manifests {
    const val SCHEMA_VERSION = 1
    private val KIND_CODES = mapOf("standard" to 'S', "separable" to 'D', "spatial" to 'P')

    fun parse(json: String, source: String = "manifest.json"): Manifest {
        try {
            val root = JSONObject(json)
            val version = root.getInt("schema_version")
            if (version != SCHEMA_VERSION) {
                throw ManifestException("$source: schema_version $version; this app reads version $SCHEMA_VERSION")
            }
            return Manifest(
                name = root.getString("name"),
                modelFile = root.getString("model_file"),
                labelsFile = root.getString("labels_file"),
                builder = if (root.isNull("builder")) null else builder(root.getJSONObject("builder")),
                quantization = root.getString("quantization"),
                input = input(root.getJSONObject("input")),
                output = output(root.getJSONObject("output")),
            )
        } catch (e: JSONException) {
            throw ManifestException("$source: ${e.message}")
        }
    }

    private fun builder(o: JSONObject): BuilderInfo {
        val kinds = o.optJSONArray("kind")
        val kind = if (kinds == null) o.getString("kind") else {
            "hybrid-" + strings(kinds).joinToString("") { k ->
                (KIND_CODES[k] ?: throw JSONException("builder.kind: unknown kind \"$k\"")).toString()
            }
        }
        return BuilderInfo(o.getString("name"), kind)
    }

    private fun input(o: JSONObject): InputSpec {
        val norm = o.getJSONObject("normalization")
        return InputSpec(
            name = o.getString("name"),
            shape = ints(o.getJSONArray("shape")),
            dtype = o.getString("dtype"),
            quantization = quantization(o),
            layout = o.getString("layout"),
            color = o.getString("color"),
            resize = o.getString("resize"),
            crop = o.getString("crop"),
            normalization = Normalization(doubles(norm.getJSONArray("mean")), doubles(norm.getJSONArray("std"))),
        )
    }

    private fun output(o: JSONObject) = OutputSpec(
        name = o.getString("name"),
        shape = ints(o.getJSONArray("shape")),
        dtype = o.getString("dtype"),
        quantization = quantization(o),
        semantics = o.getString("semantics"),
    )

    private fun quantization(tensor: JSONObject): Quantization? {
        if (tensor.isNull("quantization")) return null
        val q = tensor.getJSONObject("quantization")
        return Quantization(q.getDouble("scale"), q.getInt("zero_point"))
    }

    private fun ints(a: JSONArray) = List(a.length()) { a.getInt(it) }
    private fun doubles(a: JSONArray) = List(a.length()) { a.getDouble(it) }
    private fun strings(a: JSONArray) = List(a.length()) { a.getString(it) }
}
