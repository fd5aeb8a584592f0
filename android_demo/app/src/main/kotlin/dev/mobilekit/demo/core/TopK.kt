package dev.mobilekit.demo.core

import kotlin.math.exp

/** One ranked class: its index in the output, its label, its score, and its probability for display. */
data class Prediction(val index: Int, val label: String, val score: Float, val probability: Double)

/** The [k] best classes, highest score first, ties in index order (numpy's stable argsort, as predict ranks). */
fun topK(scores: FloatArray, labels: List<String>, k: Int, semantics: String): List<Prediction> {
    val order = scores.indices.sortedWith { a, b ->
        when {
            scores[a] > scores[b] -> -1
            scores[a] < scores[b] -> 1
            else -> a.compareTo(b)
        }
    }
    val probabilities = if (semantics == "logits") softmax(scores) else DoubleArray(scores.size) { scores[it].toDouble() }
    return order.take(k).map { i -> Prediction(i, labels.getOrElse(i) { i.toString() }, scores[i], probabilities[i]) }
}

/** Probabilities from logits, in double and shifted by the maximum so that large logits do not overflow. */
fun softmax(logits: FloatArray): DoubleArray {
    val top = logits.maxOrNull() ?: return DoubleArray(0)
    val e = DoubleArray(logits.size) { exp(logits[it].toDouble() - top) }
    val sum = e.sum()
    return DoubleArray(e.size) { e[it] / sum }
}
