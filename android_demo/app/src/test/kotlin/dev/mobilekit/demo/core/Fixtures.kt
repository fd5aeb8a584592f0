package dev.mobilekit.demo.core

import org.json.JSONArray
import org.json.JSONObject
import org.junit.Assume.assumeTrue
import java.io.File
import javax.imageio.ImageIO

/**
 * Files that tests/test_android_core.py writes for these tests (real bundles exported by mobilekit
 * in the same run, PNGs, and what Python made of them), found through -Dmobilekit.fixtures=DIR.
 * Without it, the tests that need them are skipped, e.g. under `./gradlew test`.
 */
object Fixtures {
    fun dir(): File {
        val path = System.getProperty("mobilekit.fixtures")
        assumeTrue("-Dmobilekit.fixtures not set: tests/test_android_core.py provides it", path != null)
        return File(path!!)
    }

    fun json(name: String): JSONObject = JSONObject(File(dir(), name).readText())

    fun objects(a: JSONArray): List<JSONObject> = List(a.length()) { a.getJSONObject(it) }

    fun manifest(bundle: String): Manifest {
        val file = File(dir(), "bundles/$bundle/manifest.json")
        return Manifests.parse(file.readText(), file.path)
    }

    /** An 8-bit RGB PNG's samples as they are stored: no colour conversion (ImageIO's getRGB would do one). */
    fun png(name: String): RgbImage {
        val file = File(dir(), "images/$name")
        val image = ImageIO.read(file) ?: error("$file: not an image ImageIO reads")
        val raster = image.raster
        check(raster.numBands == 3 && raster.sampleModel.getSampleSize(0) == 8) { "$file: expected 8-bit RGB" }
        val samples = raster.getPixels(0, 0, image.width, image.height, null as IntArray?)
        return RgbImage(image.width, image.height, ByteArray(samples.size) { samples[it].toByte() })
    }
}
