package dev.mobilekit.demo.core

import org.junit.Assert.assertEquals
import org.junit.Test

class TopKTest {
    @Test
    fun highestFirstTiesInIndexOrder() {
        val top = topK(floatArrayOf(0.1f, 0.7f, 0.3f, 0.7f, -0f, 0f), listOf("a", "b", "c", "d", "e", "f"), 5, "probabilities")
        assertEquals(listOf(1, 3, 2, 0, 4), top.map { it.index })
        assertEquals(listOf("b", "d", "c", "a", "e"), top.map { it.label })
    }

    @Test
    fun logitsAreShownAsProbabilities() {
        val top = topK(floatArrayOf(1000f, 1000f, -1000f), listOf("x", "y", "z"), 3, "logits")
        assertEquals(listOf(0.5, 0.5, 0.0), top.map { it.probability })
        assertEquals(1000f, top[0].score)
    }

    @Test
    fun missingLabelsFallBackToTheIndex() {
        assertEquals("2", topK(floatArrayOf(0f, 0f, 9f), listOf("a"), 1, "logits")[0].label)
    }
}
