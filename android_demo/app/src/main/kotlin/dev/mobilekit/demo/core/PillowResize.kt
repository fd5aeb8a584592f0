package dev.mobilekit.demo.core

import kotlin.math.ceil
import kotlin.math.max
import kotlin.math.min

/**
 * Pillow's `Image.resize(size, Image.BILINEAR)` for 8-bit RGB, ported step for step so that the
 * bytes agree (libImaging/Resample.c): a triangle filter at half-pixel centres whose support widens
 * with the downscale factor (antialiased when shrinking), weights normalized per output pixel and
 * turned into 22-bit fixed point, and two passes, each rounded to 8 bits. Pillow 13 runs the
 * vertical pass first when the height shrinks by more than twice as many pixels as the width
 * (python-pillow #9549; earlier Pillows always went horizontal first); the order shows in the last
 * bit, so it is followed here. Android's bitmap scaling is a different filter, so the app never
 * uses it for model input.
 */
object PillowResize {
    private const val PRECISION_BITS = 32 - 8 - 2
    private const val HALF = 1 shl (PRECISION_BITS - 1)

    fun bilinear(image: RgbImage, width: Int, height: Int): RgbImage {
        require(width > 0 && height > 0) { "resize to ${width}x$height" }
        val verticalFirst = height < image.height && image.height - height > 2 * (image.width - width)
        var out = image
        if (verticalFirst) out = pass(out, out.width, height)
        if (width != out.width) out = pass(out, width, out.height)
        if (height != out.height) out = pass(out, out.width, height)
        return out
    }

    /** Per output pixel: the first input index, how many inputs, and their fixed-point weights. */
    private class Taps(val first: IntArray, val count: IntArray, val weights: Array<IntArray>)

    private fun taps(inSize: Int, outSize: Int): Taps {
        val scale = inSize.toDouble() / outSize
        val filterScale = max(scale, 1.0)
        val support = filterScale // the triangle's support (1) times the filter scale
        val ksize = ceil(support).toInt() * 2 + 1
        val first = IntArray(outSize)
        val count = IntArray(outSize)
        val weights = Array(outSize) { IntArray(ksize) }
        val k = DoubleArray(ksize)
        for (xx in 0 until outSize) {
            val center = (xx + 0.5) * scale
            val ss = 1.0 / filterScale
            val xmin = max((center - support + 0.5).toInt(), 0)
            val n = min((center + support + 0.5).toInt(), inSize) - xmin
            var sum = 0.0
            for (x in 0 until n) {
                k[x] = triangle((x + xmin - center + 0.5) * ss)
                sum += k[x]
            }
            for (x in 0 until n) {
                val w = if (sum != 0.0) k[x] / sum else k[x]
                weights[xx][x] = (if (w < 0) -0.5 + w * (1 shl PRECISION_BITS) else 0.5 + w * (1 shl PRECISION_BITS)).toInt()
            }
            first[xx] = xmin
            count[xx] = n
        }
        return Taps(first, count, weights)
    }

    private fun triangle(x: Double): Double {
        val a = if (x < 0.0) -x else x
        return if (a < 1.0) 1.0 - a else 0.0
    }

    private fun clip8(v: Int): Byte = (v shr PRECISION_BITS).coerceIn(0, 255).toByte()

    /** One pass: resizes along the one axis where [width] x [height] differs from [src]. */
    private fun pass(src: RgbImage, width: Int, height: Int): RgbImage {
        val horizontal = width != src.width
        val t = if (horizontal) taps(src.width, width) else taps(src.height, height)
        val step = if (horizontal) 3 else src.width * 3 // bytes from one tap to the next
        val out = ByteArray(width * height * 3)
        for (y in 0 until height) for (x in 0 until width) {
            val o = if (horizontal) x else y
            val start = if (horizontal) (y * src.width + t.first[o]) * 3 else (t.first[o] * src.width + x) * 3
            val w = t.weights[o]
            for (c in 0 until 3) {
                var acc = HALF
                for (k in 0 until t.count[o]) acc += (src.rgb[start + k * step + c].toInt() and 0xff) * w[k]
                out[(y * width + x) * 3 + c] = clip8(acc)
            }
        }
        return RgbImage(width, height, out)
    }
}
