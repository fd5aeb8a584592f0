package dev.mobilekit.demo.core

/** Tensor types that LiteRT's Kotlin TensorBuffer (2.1) can write and read: it has no uint8 or int16. */
val TENSOR_BUFFER_DTYPES = setOf("float32", "int8")

private val CLASSIFIER_SEMANTICS = setOf("logits", "probabilities")

/**
 * Why this app cannot run a bundle, as one sentence for the screen, or null when it can.
 *
 * Checked before a model is loaded, so an unrunnable bundle is a message, never a crash.
 */
fun unsupportedReason(m: Manifest): String? {
    val input = m.input
    return when {
        m.output.semantics !in CLASSIFIER_SEMANTICS ->
            "output \"${m.output.semantics}\": this demo shows classifiers only"
        input.dtype !in TENSOR_BUFFER_DTYPES || m.output.dtype !in TENSOR_BUFFER_DTYPES ->
            "io ${input.dtype}/${m.output.dtype}: LiteRT's Kotlin TensorBuffer has float32 and int8 only " +
                "(export with --io int8 or --io float)"
        input.dtype != "float32" && input.quantization == null ->
            "input ${input.dtype} without quantization parameters"
        m.output.dtype != "float32" && m.output.quantization == null ->
            "output ${m.output.dtype} without quantization parameters"
        input.shape.size != 4 || input.shape[0] != 1 || input.shape[3] != 3 ->
            "input shape ${input.shape}: expected [1, H, W, 3]"
        input.layout != "NHWC" || input.color != "RGB" -> "input ${input.layout}/${input.color}: expected NHWC RGB"
        input.resize != "bilinear" -> "resize \"${input.resize}\": only bilinear is defined"
        input.crop !in CROPS -> "crop \"${input.crop}\": expected none or center"
        else -> null
    }
}
