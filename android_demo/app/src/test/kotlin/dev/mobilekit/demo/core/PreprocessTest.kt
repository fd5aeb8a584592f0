package dev.mobilekit.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test

class PreprocessTest {
    private fun image(width: Int, height: Int, pixel: (Int, Int, Int) -> Int) =
        RgbImage(width, height, ByteArray(width * height * 3) { i -> pixel(i / 3 % width, i / 3 / width, i % 3).toByte() })

    @Test
    fun halvesRoundAwayFromZero() {
        val got = listOf(-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49, -0.49).map { Preprocess.roundHalfAwayFromZero(it) }
        assertEquals(listOf(-3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 0.0, -0.0), got)
    }

    @Test
    fun quantizeRoundsShiftsAndClamps() {
        val x = floatArrayOf(0f, 0.25f, -0.25f, 0.75f, 100f, -100f)
        assertArrayEquals(byteArrayOf(-1, 0, -2, 1, 127, -128), Preprocess.quantize(x, Quantization(0.5, -1), "int8"))
        val u = Preprocess.quantize(x, Quantization(0.5, 128), "uint8").map { it.toInt() and 0xff }
        assertEquals(listOf(128, 129, 127, 130, 255, 0), u)
    }

    @Test
    fun dequantizeReadsInt8SignedAndUint8Unsigned() {
        val spec = OutputSpec("o", listOf(1, 2), "int8", Quantization(0.5, 3), "logits")
        assertArrayEquals(floatArrayOf(-65.5f, 62f), Preprocess.dequantize(byteArrayOf(-128, 127), spec), 0f)
        val unsigned = spec.copy(dtype = "uint8")
        assertArrayEquals(floatArrayOf(62.5f, 126f), Preprocess.dequantize(byteArrayOf(-128, -1), unsigned), 0f)
    }

    @Test
    fun normalizesPerChannel() {
        val x = Preprocess.normalize(image(1, 1) { _, _, c -> listOf(104, 60, 30)[c] }, Normalization(listOf(100.0, 50.0, 0.0), listOf(2.0, 5.0, 10.0)))
        assertArrayEquals(floatArrayOf(2f, 2f, 3f), x, 0f)
    }

    @Test
    fun centerCropKeepsTheMiddleWithTheModelsAspect() {
        val wide = image(40, 20) { x, _, _ -> x }
        val square = Preprocess.centerCrop(wide, 1.0)
        assertEquals(20, square.width)
        assertEquals(20, square.height)
        assertEquals(10, square.at(0, 0, 0))
        val tall = Preprocess.centerCrop(image(10, 30) { _, y, _ -> y }, 2.0)
        assertEquals(10, tall.width)
        assertEquals(5, tall.height)
        assertEquals(12, tall.at(0, 0, 0))
    }

    @Test
    fun float32InputIsLittleEndianFloats() {
        val t = InputTensor.Floats(floatArrayOf(1f, -2f))
        assertArrayEquals(byteArrayOf(0, 0, -128, 63, 0, 0, 0, -64), t.toBytes())
    }

    @Test
    fun anUndefinedCropIsRefused() {
        val spec = manifest { getJSONObject("input").put("crop", "random") }.input
        assertThrows(IllegalArgumentException::class.java) { Preprocess.input(image(8, 8) { _, _, _ -> 0 }, spec) }
    }
}
