package dev.mobilekit.demo.core

/** An 8-bit RGB picture, row-major, 3 bytes a pixel: what the contract's preprocessing starts from. */
class RgbImage(val width: Int, val height: Int, val rgb: ByteArray) {
    init {
        require(width > 0 && height > 0 && rgb.size == width * height * 3) { "RgbImage ${width}x$height: ${rgb.size} bytes" }
    }

    /** Channel [c] of pixel ([x], [y]) as 0..255. */
    fun at(x: Int, y: Int, c: Int): Int = rgb[(y * width + x) * 3 + c].toInt() and 0xff

    fun crop(left: Int, top: Int, cropWidth: Int, cropHeight: Int): RgbImage {
        require(left >= 0 && top >= 0 && left + cropWidth <= width && top + cropHeight <= height)
        val out = ByteArray(cropWidth * cropHeight * 3)
        for (y in 0 until cropHeight) {
            System.arraycopy(rgb, ((top + y) * width + left) * 3, out, y * cropWidth * 3, cropWidth * 3)
        }
        return RgbImage(cropWidth, cropHeight, out)
    }

    /** Turned clockwise by [degrees] (a multiple of 90): how a camera frame or EXIF orientation is made upright. */
    fun rotate(degrees: Int): RgbImage {
        val turns = Math.floorMod(degrees, 360)
        require(turns % 90 == 0) { "rotation $degrees: not a multiple of 90" }
        if (turns == 0) return this
        val (w, h) = if (turns == 180) width to height else height to width
        val out = ByteArray(rgb.size)
        for (y in 0 until h) for (x in 0 until w) {
            val (sx, sy) = when (turns) {
                90 -> y to height - 1 - x
                180 -> width - 1 - x to height - 1 - y
                else -> width - 1 - y to x
            }
            System.arraycopy(rgb, (sy * width + sx) * 3, out, (y * w + x) * 3, 3)
        }
        return RgbImage(w, h, out)
    }

    companion object {
        /** From packed ARGB ints (Android's Bitmap.getPixels); alpha is dropped, as the contract says. */
        fun fromArgb(pixels: IntArray, width: Int, height: Int): RgbImage {
            val out = ByteArray(width * height * 3)
            for (i in 0 until width * height) {
                val p = pixels[i]
                out[3 * i] = (p shr 16).toByte()
                out[3 * i + 1] = (p shr 8).toByte()
                out[3 * i + 2] = p.toByte()
            }
            return RgbImage(width, height, out)
        }

        /** From RGBA bytes with [rowStride] bytes a row (a CameraX RGBA_8888 plane); alpha is dropped. */
        fun fromRgba(bytes: ByteArray, width: Int, height: Int, rowStride: Int): RgbImage {
            val out = ByteArray(width * height * 3)
            for (y in 0 until height) for (x in 0 until width) {
                val src = y * rowStride + x * 4
                val dst = (y * width + x) * 3
                out[dst] = bytes[src]
                out[dst + 1] = bytes[src + 1]
                out[dst + 2] = bytes[src + 2]
            }
            return RgbImage(width, height, out)
        }
    }
}
