package dev.mobilekit.demo.core

import org.json.JSONArray
import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

class ManifestTest {
    @Test
    fun readsWhatTheAppNeeds() {
        val m = manifest()
        assertEquals("mobilenet_v2-separable-int8-a0.5", m.name)
        assertEquals(BuilderInfo("mobilenet_v2", "separable"), m.builder)
        assertEquals(4, m.input.height)
        assertEquals(6, m.input.width)
        assertEquals(Quantization(0.0078125, -1), m.input.quantization)
        assertEquals(Quantization(0.25, 3), m.output.quantization)
        assertEquals("logits", m.output.semantics)
    }

    @Test
    fun aPerStageKindListIsNamedLikeTheBundle() {
        val m = manifest { getJSONObject("builder").put("kind", JSONArray(listOf("standard", "standard", "separable", "spatial"))) }
        assertEquals("hybrid-SSDP", m.builder?.kind)
    }

    @Test
    fun nullBuilderAndFloatTensors() {
        val m = manifest {
            put("builder", JSONObject.NULL)
            getJSONObject("input").put("quantization", JSONObject.NULL)
        }
        assertNull(m.builder)
        assertNull(m.input.quantization)
    }

    @Test
    fun aMissingFieldNamesTheFileAndTheField() {
        val json = manifestJson { getJSONObject("input").remove("normalization") }
        val e = assertThrows(ManifestException::class.java) { Manifests.parse(json, "bundles/x/manifest.json") }
        assertTrue(e.message!!, e.message!!.startsWith("bundles/x/manifest.json: ") && "normalization" in e.message!!)
    }

    @Test
    fun aNewerSchemaIsRefusedPlainly() {
        val e = assertThrows(ManifestException::class.java) { Manifests.parse(manifestJson { put("schema_version", 2) }) }
        assertTrue(e.message!!, "schema_version 2" in e.message!!)
    }

    @Test
    fun notJsonIsAManifestError() {
        assertThrows(ManifestException::class.java) { Manifests.parse("{not json", "m.json") }
    }

    @Test
    fun supportedBundlesHaveNoReason() {
        assertNull(unsupportedReason(manifest()))
        assertNull(unsupportedReason(manifest { getJSONObject("input").put("crop", "center") }))
    }

    @Test
    fun unsupportedBundlesSayWhy() {
        val cases = mapOf<String, (JSONObject) -> Unit>(
            "uint8" to { it.getJSONObject("output").put("dtype", "uint8") },
            "int16" to { it.getJSONObject("input").put("dtype", "int16") },
            "classifiers only" to { it.getJSONObject("output").put("semantics", "segmentation-logits") },
            "[1, H, W, 3]" to { it.getJSONObject("input").put("shape", JSONArray(listOf(1, 4, 4, 1))) },
            "resize" to { it.getJSONObject("input").put("resize", "nearest") },
            "crop" to { it.getJSONObject("input").put("crop", "random") },
            "without quantization" to { it.getJSONObject("input").put("quantization", JSONObject.NULL) },
        )
        for ((phrase, edit) in cases) {
            val reason = unsupportedReason(manifest { edit(this) })
            assertTrue("$phrase: $reason", reason != null && phrase in reason)
        }
    }
}
