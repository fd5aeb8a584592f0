package dev.mobilekit.demo.core

import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder

/** The app's core against Python on bundles exported by mobilekit in the same run. */
class BundleParityTest {
    private val expected by lazy { Fixtures.json("expected.json") }

    @Test
    fun everyManifestParsesToWhatPythonReads() {
        val bundles = Fixtures.objects(expected.getJSONArray("manifests"))
        assertTrue("no bundles in the fixtures", bundles.size >= 4)
        for (want in bundles) {
            val m = Fixtures.manifest(want.getString("dir"))
            val where = want.getString("dir")
            assertEquals(where, want.getString("name"), m.name)
            assertEquals(where, want.getString("model_file"), m.modelFile)
            assertEquals(where, want.getString("kind"), m.builder?.kind)
            assertEquals(where, want.getString("quantization"), m.quantization)
            assertEquals(where, want.getString("input_dtype"), m.input.dtype)
            assertEquals(where, ints(want, "input_shape"), m.input.shape)
            assertEquals(where, want.getString("crop"), m.input.crop)
            assertEquals(where, quantization(want.optJSONObject("input_quantization")), m.input.quantization)
            assertEquals(where, quantization(want.optJSONObject("output_quantization")), m.output.quantization)
            assertEquals(where, doubles(want, "mean"), m.input.normalization.mean)
            assertEquals(where, doubles(want, "std"), m.input.normalization.std)
            assertEquals(where, want.getString("semantics"), m.output.semantics)
        }
    }

    @Test
    fun inputTensorsEqualPythonsByteForByte() {
        val cases = Fixtures.objects(expected.getJSONArray("inputs"))
        assertTrue("too few preprocessing cases", cases.size >= 6)
        for (case in cases) {
            val what = "${case.getString("bundle")} x ${case.getString("image")}"
            val tensor = Preprocess.input(Fixtures.png(case.getString("image")), Fixtures.manifest(case.getString("bundle")).input)
            assertSameBytes(what, File(Fixtures.dir(), case.getString("tensor")).readBytes(), tensor.toBytes())
        }
    }

    @Test
    fun outputsRankLikeMobilekitPredict() {
        val cases = Fixtures.objects(expected.getJSONArray("outputs"))
        assertTrue("no output cases", cases.size >= 3)
        for (case in cases) {
            val bundle = case.getString("bundle")
            val m = Fixtures.manifest(bundle)
            val labels = File(Fixtures.dir(), "bundles/$bundle/${m.labelsFile}").readLines()
            val raw = File(Fixtures.dir(), case.getString("raw")).readBytes()
            val scores = if (m.output.dtype == "float32") floats(raw) else Preprocess.dequantize(raw, m.output)
            val top = topK(scores, labels, 3, m.output.semantics)
            val want = Fixtures.objects(case.getJSONArray("top"))
            assertEquals(bundle, want.map { it.getInt("index") }, top.map { it.index })
            assertEquals(bundle, want.map { it.getString("label") }, top.map { it.label })
            assertEquals(bundle, want.map { it.getDouble("score").toFloat() }, top.map { it.score })
        }
    }

    @Test
    fun onlyTheUint8IoBundleIsRefused() {
        for (want in Fixtures.objects(expected.getJSONArray("manifests"))) {
            val m = Fixtures.manifest(want.getString("dir"))
            val reason = unsupportedReason(m)
            if (m.input.dtype == "uint8") {
                assertNotNull(m.name, reason)
                assertTrue(reason!!, "uint8" in reason && "--io int8" in reason)
            } else {
                assertNull(m.name, reason)
            }
        }
    }

    private fun assertSameBytes(what: String, want: ByteArray, got: ByteArray) {
        assertEquals("$what: tensor size", want.size, got.size)
        val diff = want.indices.filter { want[it] != got[it] }
        if (diff.isNotEmpty()) {
            val i = diff.first()
            fail("$what: ${diff.size} of ${want.size} bytes differ, first at byte $i (python ${want[i]}, kotlin ${got[i]})")
        }
    }

    private fun floats(raw: ByteArray): FloatArray {
        val buffer = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
        return FloatArray(buffer.remaining()).also { buffer.get(it) }
    }

    private fun quantization(o: JSONObject?) = o?.let { Quantization(it.getDouble("scale"), it.getInt("zero_point")) }
    private fun ints(o: JSONObject, key: String) = o.getJSONArray(key).let { a -> List(a.length()) { a.getInt(it) } }
    private fun doubles(o: JSONObject, key: String) = o.getJSONArray(key).let { a -> List(a.length()) { a.getDouble(it) } }
}
