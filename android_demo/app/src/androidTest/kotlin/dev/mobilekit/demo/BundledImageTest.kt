package dev.mobilekit.demo

import android.util.Log
import androidx.test.ext.junit.runners.AndroidJUnit4
import androidx.test.platform.app.InstrumentationRegistry
import com.google.ai.edge.litert.Accelerator
import dev.mobilekit.demo.core.Preprocess
import dev.mobilekit.demo.core.topK
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith

/**
 * On a phone or emulator: every bundle the app was built with classifies the bundled photo on
 * LiteRT, or says why it cannot. Build with bundles (../export or -PbundlesDir=DIR) first.
 * The logged top-3 is what `mobilekit predict BUNDLE app/src/main/assets/sample.png --top 3` prints.
 */
@RunWith(AndroidJUnit4::class)
class BundledImageTest {
    private val assets = InstrumentationRegistry.getInstrumentation().targetContext.assets
    private val bundles = ModelBundle.loadAll(assets)

    @Test
    fun everyRunnableBundleClassifiesTheSamplePhoto() {
        val runnable = bundles.filter { it.problem == null }
        assertTrue("no runnable bundle in the app's assets: build it with bundles (README)", runnable.isNotEmpty())
        val image = loadSample(assets)
        for (bundle in runnable) {
            val manifest = checkNotNull(bundle.manifest)
            val input = Preprocess.input(image, manifest.input)
            val top1ByThreads = listOf(1, 4).map { threads ->
                LiteRtClassifier(assets, bundle, RunSettings(Accelerator.CPU, threads)).use { model ->
                    val scores = model.scores(input)
                    assertEquals(bundle.title, manifest.output.shape.last(), scores.size)
                    assertTrue(bundle.title, scores.all { it.isFinite() })
                    assertTrue(bundle.title, model.lastRunNanos > 0)
                    assertArrayEquals("${bundle.title}: the same input twice", scores, model.scores(input), 0f)
                    val top = topK(scores, bundle.labels, 3, manifest.output.semantics)
                    Log.i("BundledImageTest", "${bundle.title}, $threads threads: " + top.joinToString { "${it.label} ${it.score}" })
                    top.first().index
                }
            }
            assertEquals("${bundle.title}: 1 and 4 threads disagree on the top class", top1ByThreads[0], top1ByThreads[1])
        }
    }
}
