package dev.mobilekit.demo

import android.content.res.AssetManager
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import androidx.camera.core.ImageProxy
import dev.mobilekit.demo.core.RgbImage

/** The photo the benchmark and the instrumented test classify (CC0, from scikit-image). */
const val SAMPLE_ASSET = "sample.png"

fun loadSample(assets: AssetManager): RgbImage {
    val bitmap = assets.open(SAMPLE_ASSET).use { BitmapFactory.decodeStream(it) } ?: error("$SAMPLE_ASSET: not decodable")
    return bitmap.toRgbImage()
}

/** Bitmap.getPixels gives unpremultiplied ARGB; the core drops alpha. */
fun Bitmap.toRgbImage(): RgbImage {
    val pixels = IntArray(width * height)
    getPixels(pixels, 0, width, 0, 0, width, height)
    return RgbImage.fromArgb(pixels, width, height)
}

/** An RGBA_8888 camera frame, turned upright by its rotationDegrees (the camera's EXIF orientation). */
fun ImageProxy.toUprightRgbImage(): RgbImage {
    val plane = planes[0]
    val buffer = plane.buffer.duplicate().apply { rewind() }
    val bytes = ByteArray(buffer.remaining()).also { buffer.get(it) }
    return RgbImage.fromRgba(bytes, width, height, plane.rowStride).rotate(imageInfo.rotationDegrees)
}
