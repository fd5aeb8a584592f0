package dev.mobilekit.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

class LatencyStatsTest {
    @Test
    fun medianAndPercentilesEqualNumpys() {
        val cases = Fixtures.objects(Fixtures.json("expected.json").getJSONArray("stats"))
        assertTrue(cases.size >= 3)
        for (case in cases) {
            val a = case.getJSONArray("samples")
            val samples = List(a.length()) { a.getDouble(it) }
            val what = "${samples.size} samples"
            // exact equality: the same operations in the same order as numpy
            assertEquals(what, case.getDouble("median"), LatencyStats.median(samples), 0.0)
            for (p in listOf("5", "50", "90", "95")) {
                assertEquals("$what p$p", case.getDouble("p$p"), LatencyStats.percentile(samples, p.toDouble()), 0.0)
            }
        }
    }

    @Test
    fun percentileInterpolatesBetweenNeighbours() {
        val samples = (1..10).map { it.toDouble() }
        assertEquals(9.1, LatencyStats.percentile(samples, 90.0), 1e-12)
        assertEquals(5.5, LatencyStats.median(samples), 0.0)
        assertEquals(10.0, LatencyStats.percentile(samples, 100.0), 0.0)
        assertEquals(7.0, LatencyStats.percentile(listOf(7.0), 90.0), 0.0)
    }

    @Test
    fun rollingMedianForgetsOldValues() {
        val rolling = RollingMedian(2)
        assertEquals(100.0, rolling.add(100.0), 0.0)
        assertEquals(50.5, rolling.add(1.0), 0.0)
        assertEquals(2.0, rolling.add(3.0), 0.0) // 100 has left the window (all three: median 3)
        assertEquals(2, rolling.size)
    }
}
