package dev.mobilekit.demo.core

import org.junit.runner.JUnitCore
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener
import kotlin.system.exitProcess

/**
 * Runs the named JUnit classes outside Gradle (tests/test_android_core.py uses it) and ends with
 * the line CI counts: "N passed, N failed, N skipped". Exit status 1 on any failure.
 */
fun main(args: Array<String>) {
    val core = JUnitCore()
    core.addListener(object : RunListener() {
        override fun testFailure(failure: Failure) {
            val ours = failure.exception.stackTrace.filter { it.className.startsWith("dev.mobilekit.") }
            println("FAILED ${failure.testHeader}: ${failure.exception}")
            ours.take(5).forEach { println("    at $it") }
        }
        override fun testAssumptionFailure(failure: Failure) = println("SKIPPED ${failure.testHeader}: ${failure.message}")
    })
    val result = core.run(*args.map { Class.forName(it) }.toTypedArray())
    val skipped = result.assumptionFailureCount + result.ignoreCount
    val passed = result.runCount - result.failureCount - result.assumptionFailureCount
    println("$passed passed, ${result.failureCount} failed, $skipped skipped")
    exitProcess(if (result.failureCount == 0 && args.isNotEmpty()) 0 else 1)
}
