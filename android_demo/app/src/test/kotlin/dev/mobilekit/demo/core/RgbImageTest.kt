package dev.mobilekit.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test

class RgbImageTest {
    /** 3 x 2, each pixel's red channel = its number 1..6 in reading order. */
    private val six = RgbImage(3, 2, ByteArray(18) { i -> if (i % 3 == 0) (i / 3 + 1).toByte() else 0 })

    private fun reds(image: RgbImage) = (0 until image.height).map { y -> (0 until image.width).map { x -> image.at(x, y, 0) } }

    @Test
    fun rotatesClockwise() {
        assertEquals(listOf(listOf(4, 1), listOf(5, 2), listOf(6, 3)), reds(six.rotate(90)))
        assertEquals(listOf(listOf(6, 5, 4), listOf(3, 2, 1)), reds(six.rotate(180)))
        assertEquals(listOf(listOf(3, 6), listOf(2, 5), listOf(1, 4)), reds(six.rotate(270)))
        assertEquals(reds(six), reds(six.rotate(-360)))
        assertThrows(IllegalArgumentException::class.java) { six.rotate(45) }
    }

    @Test
    fun cropsABox() {
        assertEquals(listOf(listOf(5, 6)), reds(six.crop(1, 1, 2, 1)))
    }

    @Test
    fun fromArgbDropsAlpha() {
        val image = RgbImage.fromArgb(intArrayOf(0x7f102030, 0xff0000ff.toInt()), 2, 1)
        assertEquals(listOf(0x10, 0x20, 0x30, 0, 0, 0xff), image.rgb.map { it.toInt() and 0xff })
    }

    @Test
    fun fromRgbaSkipsAlphaAndRowPadding() {
        val rowStride = 12 // 2 pixels of 4 bytes, then 4 bytes of padding
        val bytes = ByteArray(2 * rowStride) { i -> if (i % rowStride < 8) (i + 1).toByte() else 99 }
        val image = RgbImage.fromRgba(bytes, 2, 2, rowStride)
        assertEquals(listOf(1, 2, 3, 5, 6, 7, 13, 14, 15, 17, 18, 19), image.rgb.map { it.toInt() })
    }
}
