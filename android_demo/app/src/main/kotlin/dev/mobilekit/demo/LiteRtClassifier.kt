package dev.mobilekit.demo

import android.content.res.AssetManager
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.TensorBuffer
import dev.mobilekit.demo.core.InputTensor
import dev.mobilekit.demo.core.Preprocess

/**
 * One bundle compiled with LiteRT's CompiledModel API, the thread count passed for real through
 * CpuOptions. Not thread-safe: use it from one thread. Throws LiteRtException when LiteRT refuses.
 */
class LiteRtClassifier(assets: AssetManager, val bundle: ModelBundle, val settings: RunSettings) : AutoCloseable {
    private val output = checkNotNull(bundle.manifest).output
    private val model: CompiledModel
    private val inputs: List<TensorBuffer>
    private val outputs: List<TensorBuffer>

    /** The last run's inference time: System.nanoTime around run() only, no pre- or post-processing. */
    var lastRunNanos = 0L
        private set

    init {
        val options = CompiledModel.Options(*settings.accelerators).apply {
            cpuOptions = CompiledModel.CpuOptions(numThreads = settings.threads)
        }
        model = CompiledModel.create(assets, bundle.modelAsset, options, null)
        inputs = model.createInputBuffers()
        outputs = model.createOutputBuffers()
    }

    /** The output row as float scores (dequantized for an int8 output). */
    fun scores(input: InputTensor): FloatArray {
        when (input) {
            is InputTensor.Floats -> inputs[0].writeFloat(input.values)
            is InputTensor.Bytes -> inputs[0].writeInt8(input.values)
        }
        val start = System.nanoTime()
        model.run(inputs, outputs)
        lastRunNanos = System.nanoTime() - start
        return if (output.dtype == "float32") outputs[0].readFloat() else Preprocess.dequantize(outputs[0].readInt8(), output)
    }

    override fun close() {
        inputs.forEach { it.close() }
        outputs.forEach { it.close() }
        model.close()
    }
}
