package dev.mobilekit.demo

import android.os.Bundle
import android.widget.Button
import android.widget.EditText
import android.widget.Spinner
import android.widget.TextView
import androidx.appcompat.app.AppCompatActivity
import dev.mobilekit.demo.core.LatencyStats
import dev.mobilekit.demo.core.Preprocess
import dev.mobilekit.demo.core.RgbImage
import dev.mobilekit.demo.core.speedUps
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * N warm-up and M timed runs of every bundle on the bundled photo, then a table of median and p90
 * (computed as `mobilekit bench` computes them) and each variant's speed-up over the standard one.
 */
class BenchmarkActivity : AppCompatActivity() {
    private lateinit var warmupField: EditText
    private lateinit var runsField: EditText
    private lateinit var threadsPicker: Spinner
    private lateinit var acceleratorPicker: Spinner
    private lateinit var runButton: Button
    private lateinit var statusText: TextView
    private lateinit var tableText: TextView
    private val executor: ExecutorService = Executors.newSingleThreadExecutor()

    /** One variant's result: times in ms, or why it was not measured. */
    private class Row(val bundle: ModelBundle, val medianMs: Double?, val p90Ms: Double?, val error: String?)

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_benchmark)
        warmupField = findViewById(R.id.warmup)
        runsField = findViewById(R.id.runs)
        threadsPicker = findViewById(R.id.threads)
        acceleratorPicker = findViewById(R.id.accelerator)
        runButton = findViewById(R.id.run)
        statusText = findViewById(R.id.status)
        tableText = findViewById(R.id.table)
        RunSettings.setUpPickers(this, threadsPicker, acceleratorPicker)
        runButton.setOnClickListener { start() }
    }

    override fun onDestroy() {
        super.onDestroy()
        executor.shutdownNow()
    }

    private fun start() {
        val warmup = warmupField.text.toString().toIntOrNull()
        val runs = runsField.text.toString().toIntOrNull()
        if (warmup == null || warmup < 0 || runs == null || runs < 1) {
            statusText.text = getString(R.string.bad_count)
            return
        }
        val settings = RunSettings.fromPickers(threadsPicker, acceleratorPicker)
        runButton.isEnabled = false
        tableText.text = ""
        executor.execute { benchmark(warmup, runs, settings) }
    }

    /** On the worker thread: the variants one after another, the table redrawn after each. */
    private fun benchmark(warmup: Int, runs: Int, settings: RunSettings) {
        val bundles = ModelBundle.loadAll(assets)
        val image = loadSample(assets)
        val rows = mutableListOf<Row>()
        for ((i, bundle) in bundles.withIndex()) {
            runOnUiThread { statusText.text = getString(R.string.benchmark_progress, bundle.title, i + 1, bundles.size) }
            rows += measure(bundle, image, warmup, runs, settings)
            val table = render(rows)
            runOnUiThread { tableText.text = table }
        }
        runOnUiThread {
            statusText.text = if (bundles.isEmpty()) getString(R.string.no_bundles)
            else getString(R.string.benchmark_done, bundles.size, settings.toString())
            runButton.isEnabled = true
        }
    }

    private fun measure(bundle: ModelBundle, image: RgbImage, warmup: Int, runs: Int, settings: RunSettings): Row {
        bundle.problem?.let { return Row(bundle, null, null, it) }
        return try {
            LiteRtClassifier(assets, bundle, settings).use { model ->
                val input = Preprocess.input(image, checkNotNull(bundle.manifest).input)
                repeat(warmup) { model.scores(input) }
                val samples = List(runs) {
                    model.scores(input)
                    model.lastRunNanos / 1e6
                }
                Row(bundle, LatencyStats.median(samples), LatencyStats.percentile(samples, 90.0), null)
            }
        } catch (e: Exception) {
            Row(bundle, null, null, "$settings: ${e.message ?: e.javaClass.simpleName}")
        }
    }

    private fun render(rows: List<Row>): String {
        val measured = rows.filter { it.medianMs != null }
        val speedUp = speedUps(measured.associate { checkNotNull(it.bundle.manifest) to checkNotNull(it.medianMs) })
        val width = maxOf(7, rows.maxOf { it.bundle.title.length })
        val lines = mutableListOf("%-${width}s %10s %10s %8s".format("variant", "median ms", "p90 ms", "vs std"))
        for (row in rows) {
            lines += if (row.error != null) {
                "%-${width}s cannot run: %s".format(row.bundle.title, row.error)
            } else {
                val ratio = speedUp[row.bundle.title]?.let { "%.2fx".format(it) } ?: "-"
                "%-${width}s %10.3f %10.3f %8s".format(row.bundle.title, row.medianMs, row.p90Ms, ratio)
            }
        }
        return lines.joinToString("\n")
    }
}
