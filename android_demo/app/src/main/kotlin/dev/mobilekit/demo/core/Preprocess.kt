package dev.mobilekit.demo.core

import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlin.math.abs
import kotlin.math.floor
import kotlin.math.round
import kotlin.math.sign

/** The crops the contract defines. */
val CROPS = setOf("none", "center")

/** A model input ready for a tensor buffer: float32 values, or int8/uint8 bytes. */
sealed class InputTensor {
    class Floats(val values: FloatArray) : InputTensor()
    class Bytes(val values: ByteArray, val dtype: String) : InputTensor()

    /** The tensor's bytes as the model holds them (little-endian floats): what tests compare. */
    fun toBytes(): ByteArray = when (this) {
        is Bytes -> values
        is Floats -> ByteBuffer.allocate(values.size * 4).order(ByteOrder.LITTLE_ENDIAN)
            .apply { asFloatBuffer().put(values) }.array()
    }
}

/**
 * The contract's preprocessing after decoding (CONTRACTS.md, "Bundle"), as `mobilekit predict`
 * does it: optional central crop, Pillow's bilinear resize, (x - mean) / std in float32, then
 * quantization for an integer input.
 */
object Preprocess {
    fun input(image: RgbImage, spec: InputSpec): InputTensor {
        require(spec.resize == "bilinear") { "resize \"${spec.resize}\": only bilinear is defined" }
        val framed = when (spec.crop) {
            "none" -> image
            "center" -> centerCrop(image, spec.width.toDouble() / spec.height)
            else -> throw IllegalArgumentException("crop \"${spec.crop}\": expected one of $CROPS")
        }
        val x = normalize(PillowResize.bilinear(framed, spec.width, spec.height), spec.normalization)
        if (spec.dtype == "float32") return InputTensor.Floats(x)
        val q = requireNotNull(spec.quantization) { "input ${spec.dtype} without quantization parameters" }
        return InputTensor.Bytes(quantize(x, q, spec.dtype), spec.dtype)
    }

    /** The largest central box with the model's aspect ratio (width / height); Python's round() is half-to-even, as is Kotlin's. */
    fun centerCrop(image: RgbImage, aspect: Double): RgbImage {
        val w = image.width
        val h = image.height
        val (cw, ch) = if (w.toDouble() / h > aspect) round(h * aspect).toInt() to h else w to round(w / aspect).toInt()
        return image.crop((w - cw) / 2, (h - ch) / 2, cw, ch)
    }

    /** (pixel - mean) / std per channel, in float32 like numpy's float32 arithmetic. */
    fun normalize(image: RgbImage, norm: Normalization): FloatArray {
        val mean = FloatArray(3) { norm.mean[it].toFloat() }
        val std = FloatArray(3) { norm.std[it].toFloat() }
        return FloatArray(image.rgb.size) { i -> ((image.rgb[i].toInt() and 0xff).toFloat() - mean[i % 3]) / std[i % 3] }
    }

    /** q = clamp(round_half_away_from_zero(x / scale) + zero_point), computed in double as predict does. */
    fun quantize(x: FloatArray, q: Quantization, dtype: String): ByteArray {
        val (lo, hi) = when (dtype) {
            "int8" -> -128.0 to 127.0
            "uint8" -> 0.0 to 255.0
            else -> throw IllegalArgumentException("quantized input $dtype: expected int8 or uint8")
        }
        return ByteArray(x.size) { i -> (roundHalfAwayFromZero(x[i].toDouble() / q.scale) + q.zeroPoint).coerceIn(lo, hi).toInt().toByte() }
    }

    /** Halves go away from zero (-0.5 -> -1), unlike Kotlin's round (half-even) or roundToInt (half-up). */
    fun roundHalfAwayFromZero(v: Double): Double = sign(v) * floor(abs(v) + 0.5)

    /** A quantized output as float32: scale * (q - zero_point), the arithmetic predict uses. */
    fun dequantize(raw: ByteArray, spec: OutputSpec): FloatArray {
        val q = requireNotNull(spec.quantization) { "output ${spec.dtype} without quantization parameters" }
        val unsigned = when (spec.dtype) {
            "int8" -> false
            "uint8" -> true
            else -> throw IllegalArgumentException("quantized output ${spec.dtype}: expected int8 or uint8")
        }
        val scale = q.scale.toFloat()
        val zero = q.zeroPoint.toFloat()
        return FloatArray(raw.size) { i ->
            val v = if (unsigned) raw[i].toInt() and 0xff else raw[i].toInt()
            scale * (v.toFloat() - zero)
        }
    }
}
