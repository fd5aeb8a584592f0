package dev.mobilekit.demo.core

import org.json.JSONArray
import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Test

class SpeedUpTest {
    private fun bundle(name: String, kind: Any?) = manifest {
        put("name", name)
        if (kind == null) put("builder", JSONObject.NULL)
        else getJSONObject("builder").put("kind", if (kind is List<*>) JSONArray(kind) else kind)
    }

    @Test
    fun eachVariantIsComparedWithTheStandardOneOfTheSameQuantization() {
        val std8 = bundle("mobilenet_v2-standard-int8-a0.5", "standard")
        val sep8 = bundle("mobilenet_v2-separable-int8-a0.5", "separable")
        val stdF = bundle("mobilenet_v2-standard-fp32", "standard")
        val sepF = bundle("mobilenet_v2-separable-fp32", "separable")
        val hybrid = bundle("mobilenet_v2-hybrid-SD-fp32", listOf("standard", "separable"))
        val lonely = bundle("mobilenet_v2-separable-int8-a0.5-uint8io", "separable")
        val foreign = bundle("resnet-tuned", null)
        val got = speedUps(mapOf(std8 to 8.0, sep8 to 2.0, stdF to 9.0, sepF to 3.0, hybrid to 4.5, lonely to 1.0, foreign to 1.0))
        assertEquals(1.0, got.getValue(std8.name)!!, 0.0)
        assertEquals(4.0, got.getValue(sep8.name)!!, 0.0)
        assertEquals(3.0, got.getValue(sepF.name)!!, 0.0)
        assertEquals(2.0, got.getValue(hybrid.name)!!, 0.0)
        assertNull(got.getValue(lonely.name))
        assertNull(got.getValue(foreign.name))
    }

    @Test
    fun theKindMayEndTheName() {
        assertEquals("net-*", variantGroup(bundle("net-standard", "standard")))
    }
}
