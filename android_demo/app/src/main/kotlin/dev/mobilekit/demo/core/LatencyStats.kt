package dev.mobilekit.demo.core

import kotlin.math.floor

/**
 * Median and percentiles defined as `mobilekit bench` computes them (numpy's median and its
 * default "linear" percentile), so the app's table and the Python rows mean the same numbers.
 */
object LatencyStats {
    fun median(samples: List<Double>): Double {
        require(samples.isNotEmpty()) { "median of no samples" }
        val s = samples.sorted()
        val mid = s.size / 2
        return if (s.size % 2 == 1) s[mid] else (s[mid - 1] + s[mid]) / 2
    }

    /** numpy.percentile(samples, p): index (n - 1) * p / 100, interpolated between neighbours. */
    fun percentile(samples: List<Double>, p: Double): Double {
        require(samples.isNotEmpty() && p in 0.0..100.0) { "percentile $p of ${samples.size} samples" }
        val s = samples.sorted()
        val index = (s.size - 1) * (p / 100)
        if (index >= s.size - 1) return s.last()
        val lo = floor(index).toInt()
        val a = s[lo]
        val b = s[lo + 1]
        val t = index - lo
        // numpy's _lerp: from the nearer end, which keeps the result monotonic in t
        return if (t >= 0.5) b - (b - a) * (1 - t) else a + (b - a) * t
    }
}

/** The median of the last [capacity] values: the live screen's latency, steady against one slow frame. */
class RollingMedian(private val capacity: Int) {
    private val window = ArrayDeque<Double>()

    init {
        require(capacity > 0)
    }

    val size: Int get() = window.size

    fun add(value: Double): Double {
        if (window.size == capacity) window.removeFirst()
        window.addLast(value)
        return LatencyStats.median(window.toList())
    }

    fun clear() = window.clear()
}
