package dev.mobilekit.demo

import android.content.res.AssetManager
import dev.mobilekit.demo.core.Manifest
import dev.mobilekit.demo.core.ManifestException
import dev.mobilekit.demo.core.Manifests
import dev.mobilekit.demo.core.unsupportedReason
import java.io.IOException

/**
 * A bundle in the app's assets (bundles/<name>/, put there by the copyBundles Gradle task): its
 * manifest and labels, or [problem], the one sentence that says why the app cannot run it.
 */
class ModelBundle(val dir: String, val manifest: Manifest?, val labels: List<String>, val problem: String?) {
    val title: String get() = manifest?.name ?: dir.substringAfterLast('/')
    val modelAsset: String get() = "$dir/${checkNotNull(manifest).modelFile}"

    companion object {
        private const val ROOT = "bundles"

        /** Every folder under assets/bundles/, by name. */
        fun loadAll(assets: AssetManager): List<ModelBundle> =
            assets.list(ROOT).orEmpty().sorted().map { load(assets, "$ROOT/$it") }

        private fun load(assets: AssetManager, dir: String): ModelBundle {
            val manifest = try {
                Manifests.parse(assets.open("$dir/manifest.json").bufferedReader().use { it.readText() }, "$dir/manifest.json")
            } catch (e: ManifestException) {
                return ModelBundle(dir, null, emptyList(), e.message)
            } catch (e: IOException) {
                return ModelBundle(dir, null, emptyList(), "$dir/manifest.json: not readable ($e)")
            }
            val labels = try {
                assets.open("$dir/${manifest.labelsFile}").bufferedReader().use { it.readLines() }
            } catch (e: IOException) {
                return ModelBundle(dir, manifest, emptyList(), "$dir/${manifest.labelsFile}: not readable ($e)")
            }
            return ModelBundle(dir, manifest, labels, unsupportedReason(manifest))
        }
    }
}
