package dev.mobilekit.demo

import android.Manifest
import android.content.Intent
import android.content.pm.PackageManager
import android.os.Bundle
import android.view.View
import android.widget.AdapterView
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.Spinner
import android.widget.TextView
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import dev.mobilekit.demo.core.Prediction
import dev.mobilekit.demo.core.Preprocess
import dev.mobilekit.demo.core.RollingMedian
import dev.mobilekit.demo.core.topK
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Live classification: CameraX frames (keep-only-latest, RGBA_8888) go through the bundle's own
 * preprocessing into the chosen variant; the screen shows the top 3 and the inference-only latency
 * with its rolling median and the thread count.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var previewView: PreviewView
    private lateinit var variantPicker: Spinner
    private lateinit var threadsPicker: Spinner
    private lateinit var acceleratorPicker: Spinner
    private lateinit var resultsText: TextView
    private lateinit var latencyText: TextView
    private lateinit var statusText: TextView
    private lateinit var bundles: List<ModelBundle>

    /** What the pickers ask for; read by the analysis thread. */
    @Volatile
    private var wanted: Pair<ModelBundle, RunSettings>? = null

    // Touched only on the analysis thread:
    private val analysisExecutor: ExecutorService = Executors.newSingleThreadExecutor()
    private var classifier: LiteRtClassifier? = null
    private var refused: Pair<ModelBundle, RunSettings>? = null
    private val rolling = RollingMedian(ROLLING_WINDOW)

    private val askForCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else statusText.text = getString(R.string.no_camera)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        previewView = findViewById(R.id.preview)
        variantPicker = findViewById(R.id.variant)
        threadsPicker = findViewById(R.id.threads)
        acceleratorPicker = findViewById(R.id.accelerator)
        resultsText = findViewById(R.id.results)
        latencyText = findViewById(R.id.latency)
        statusText = findViewById(R.id.status)

        bundles = ModelBundle.loadAll(assets)
        variantPicker.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, bundles.map { it.title })
        RunSettings.setUpPickers(this, threadsPicker, acceleratorPicker)
        val onChange = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>?, view: View?, position: Int, id: Long) = choose()
            override fun onNothingSelected(parent: AdapterView<*>?) = Unit
        }
        listOf(variantPicker, threadsPicker, acceleratorPicker).forEach { it.onItemSelectedListener = onChange }
        findViewById<Button>(R.id.open_benchmark).setOnClickListener {
            startActivity(Intent(this, BenchmarkActivity::class.java))
        }
        if (bundles.isEmpty()) statusText.text = getString(R.string.no_bundles)

        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera()
        } else {
            askForCamera.launch(Manifest.permission.CAMERA)
        }
    }

    override fun onDestroy() {
        super.onDestroy()
        analysisExecutor.execute { classifier?.close() }
        analysisExecutor.shutdown()
    }

    private fun choose() {
        val bundle = bundles.getOrNull(variantPicker.selectedItemPosition) ?: return
        wanted = bundle to RunSettings.fromPickers(threadsPicker, acceleratorPicker)
        resultsText.text = ""
        latencyText.text = ""
        statusText.text = bundle.problem?.let { getString(R.string.cannot_run, bundle.title, it) } ?: ""
    }

    private fun startCamera() {
        val providerFuture = ProcessCameraProvider.getInstance(this)
        providerFuture.addListener({
            val provider = providerFuture.get()
            val preview = Preview.Builder().build().also { it.setSurfaceProvider(previewView.surfaceProvider) }
            val analysis = ImageAnalysis.Builder()
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                .build()
            analysis.setAnalyzer(analysisExecutor) { frame -> analyze(frame) }
            provider.unbindAll()
            provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, preview, analysis)
        }, ContextCompat.getMainExecutor(this))
    }

    /** On the analysis thread: one frame through preprocessing, the model and top-k. */
    private fun analyze(frame: ImageProxy) {
        frame.use {
            val (bundle, settings) = wanted ?: return
            if (bundle.problem != null) return
            val model = classifierFor(bundle, settings) ?: return
            val spec = checkNotNull(bundle.manifest)
            try {
                val scores = model.scores(Preprocess.input(frame.toUprightRgbImage(), spec.input))
                val ms = model.lastRunNanos / 1e6
                val median = rolling.add(ms)
                val top = topK(scores, bundle.labels, TOP_K, spec.output.semantics)
                val count = rolling.size
                runOnUiThread { show(top, ms, median, count, settings) }
            } catch (e: Exception) {
                refuse(bundle, settings, e)
            }
        }
    }

    /** The classifier for this choice, built when the choice changes; null when LiteRT refuses it. */
    private fun classifierFor(bundle: ModelBundle, settings: RunSettings): LiteRtClassifier? {
        classifier?.let { if (it.bundle === bundle && it.settings == settings) return it }
        classifier?.close()
        classifier = null
        rolling.clear()
        if (refused == bundle to settings) return null
        return try {
            LiteRtClassifier(assets, bundle, settings).also { classifier = it }
        } catch (e: Exception) {
            refuse(bundle, settings, e)
            null
        }
    }

    private fun refuse(bundle: ModelBundle, settings: RunSettings, e: Exception) {
        refused = bundle to settings
        classifier?.close()
        classifier = null
        val reason = "$settings: ${e.message ?: e.javaClass.simpleName}"
        runOnUiThread { statusText.text = getString(R.string.cannot_run, bundle.title, reason) }
    }

    private fun show(top: List<Prediction>, ms: Double, median: Double, count: Int, settings: RunSettings) {
        resultsText.text = top.joinToString("\n") { "%-24s %5.1f%%".format(it.label.take(24), 100 * it.probability) }
        latencyText.text = getString(R.string.latency, ms, median, count, settings.toString())
    }

    private companion object {
        const val TOP_K = 3
        const val ROLLING_WINDOW = 30
    }
}
