package dev.mobilekit.demo.core

/**
 * The name of [m] with its conv kind blanked out: bundles that differ only in kind share it, and
 * the one whose kind is "standard" is their baseline (as `mobilekit compare` pairs variants).
 */
fun variantGroup(m: Manifest): String? {
    val kind = m.builder?.kind ?: return null
    val marker = "-$kind-"
    return when {
        m.name.contains(marker) -> m.name.replaceFirst(marker, "-*-")
        m.name.endsWith("-$kind") -> m.name.removeSuffix(kind) + "*"
        else -> null
    }
}

/**
 * How many times faster each bundle's median is than the standard bundle of its group
 * (standard median / its median), keyed by bundle name; null where the group has no standard one.
 */
fun speedUps(medianMs: Map<Manifest, Double>): Map<String, Double?> {
    val standard = medianMs.filterKeys { it.builder?.kind == "standard" }
        .entries.associate { (m, ms) -> variantGroup(m) to ms }
    return medianMs.entries.associate { (m, ms) ->
        val base = variantGroup(m)?.let { standard[it] }
        m.name to base?.let { it / ms }
    }
}
