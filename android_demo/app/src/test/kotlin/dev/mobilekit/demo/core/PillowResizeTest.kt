package dev.mobilekit.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertSame
import org.junit.Test

/** Properties of Pillow's filter; byte equality with Pillow itself is BundleParityTest's job. */
class PillowResizeTest {
    private fun image(width: Int, height: Int, pixel: (Int, Int) -> Int) =
        RgbImage(width, height, ByteArray(width * height * 3) { i -> pixel(i / 3 % width, i / 3 / width).toByte() })

    @Test
    fun theSameSizeIsLeftAlone() {
        val a = image(5, 3) { x, y -> x * 40 + y }
        assertSame(a, PillowResize.bilinear(a, 5, 3))
    }

    @Test
    fun aFlatImageStaysFlatBothWays() {
        val flat = image(7, 5) { _, _ -> 200 }
        for ((w, h) in listOf(3 to 2, 16 to 11, 7 to 2, 2 to 5)) {
            val out = PillowResize.bilinear(flat, w, h)
            assertEquals(w * h * 3, out.rgb.count { (it.toInt() and 0xff) == 200 })
        }
    }

    @Test
    fun halvingTwoPixelsAveragesThemWithFixedPointRounding() {
        val pair = image(2, 1) { x, _ -> x * 255 }
        assertEquals(128, PillowResize.bilinear(pair, 1, 1).at(0, 0, 0)) // 127.5 rounds up
    }

    @Test
    fun shrinkingIsAntialiased() {
        // output centres fall on pixels 1, 4, 7, 10: plain bilinear sampling would give 255, 0, 255, 0
        val stripes = image(12, 1) { x, _ -> if (x % 2 == 0) 0 else 255 }
        val out = PillowResize.bilinear(stripes, 4, 1)
        for (x in 0 until 4) assertEquals(127.5, out.at(x, 0, 1).toDouble(), 16.0)
    }

    @Test
    fun enlargingInterpolatesBetweenNeighbours() {
        val ramp = image(2, 1) { x, _ -> x * 200 }
        val out = PillowResize.bilinear(ramp, 4, 1)
        assertEquals(listOf(0, 50, 150, 200), (0 until 4).map { out.at(it, 0, 2) })
    }
}
