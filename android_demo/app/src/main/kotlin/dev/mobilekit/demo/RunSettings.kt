package dev.mobilekit.demo

import android.content.Context
import android.widget.ArrayAdapter
import android.widget.Spinner
import com.google.ai.edge.litert.Accelerator

/** Where a model runs: CPU with [threads] threads, or the GPU (with the CPU for what the GPU lacks). */
data class RunSettings(val accelerator: Accelerator, val threads: Int) {
    /** What LiteRT is asked for; GPU keeps the CPU as the fallback for ops the GPU cannot run. */
    val accelerators: Array<Accelerator>
        get() = if (accelerator == Accelerator.GPU) arrayOf(Accelerator.GPU, Accelerator.CPU) else arrayOf(Accelerator.CPU)

    override fun toString(): String {
        val where = if (accelerator == Accelerator.GPU) "GPU+CPU" else "CPU"
        return "$where, $threads thread${if (threads == 1) "" else "s"}"
    }

    companion object {
        private val THREADS = listOf(1, 2, 4, 8)
        private val ACCELERATORS = listOf(Accelerator.CPU, Accelerator.GPU)
        private const val DEFAULT_THREADS = 4

        /** Fills the two pickers that every screen shows. */
        fun setUpPickers(context: Context, threads: Spinner, accelerator: Spinner) {
            threads.adapter = ArrayAdapter(context, android.R.layout.simple_spinner_dropdown_item, THREADS.map { "$it thread${if (it == 1) "" else "s"}" })
            threads.setSelection(THREADS.indexOf(DEFAULT_THREADS))
            accelerator.adapter = ArrayAdapter(context, android.R.layout.simple_spinner_dropdown_item, ACCELERATORS.map { it.name })
        }

        fun fromPickers(threads: Spinner, accelerator: Spinner) =
            RunSettings(ACCELERATORS[accelerator.selectedItemPosition], THREADS[threads.selectedItemPosition])
    }
}
