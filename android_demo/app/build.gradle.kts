import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
}

android {
    namespace = "dev.mobilekit.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.mobilekit.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "1.0"
        testInstrumentationRunner = "androidx.test.runner.AndroidJUnitRunner"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    androidResources {
        // LiteRT maps models straight out of the APK: keep them uncompressed
        noCompress += "tflite"
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

/**
 * Copies every mobilekit bundle (a folder holding manifest.json, labels.txt and the model) found
 * in a directory into the app's assets under bundles/. No bundles is a warning, not an error:
 * the app then says it has none.
 */
abstract class CopyBundles : DefaultTask() {
    @get:InputFiles
    @get:PathSensitive(PathSensitivity.RELATIVE)
    abstract val bundleFiles: ConfigurableFileCollection

    @get:Internal
    abstract val sourceDir: DirectoryProperty

    @get:OutputDirectory
    abstract val outputDir: DirectoryProperty

    @TaskAction
    fun copy() {
        val source = sourceDir.get().asFile
        val target = outputDir.get().asFile.resolve("bundles")
        target.deleteRecursively()
        val bundles = source.listFiles().orEmpty().filter { it.resolve("manifest.json").isFile }.sortedBy { it.name }
        for (bundle in bundles) {
            for (file in bundle.listFiles().orEmpty().filter { it.isFile }) {
                file.copyTo(target.resolve(bundle.name).resolve(file.name), overwrite = true)
            }
        }
        if (bundles.isEmpty()) {
            logger.warn("copyBundles: no bundles in $source (run `mobilekit export ...` or pass -PbundlesDir=DIR)")
        } else {
            logger.lifecycle("copyBundles: ${bundles.size} bundle(s) from $source: ${bundles.joinToString { it.name }}")
        }
    }
}

// ../export is where `mobilekit export` and `mobilekit quickstart` write bundles by default;
// -PbundlesDir=DIR picks another folder (relative paths start at android_demo/).
val bundlesDir: Provider<File> = providers.gradleProperty("bundlesDir")
    .map { rootProject.file(it) }
    .orElse(rootProject.file("../export"))

val copyBundles = tasks.register<CopyBundles>("copyBundles") {
    description = "Copies mobilekit bundles from ../export (or -PbundlesDir=DIR) into the app's assets."
    sourceDir.set(layout.dir(bundlesDir))
    bundleFiles.from(bundlesDir.map { dir -> fileTree(dir) { include("*/*") } })
}

androidComponents {
    onVariants { variant ->
        variant.sources.assets?.addGeneratedSourceDirectory(copyBundles, CopyBundles::outputDir)
    }
}

dependencies {
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.appcompat)
    implementation(libs.androidx.activity.ktx)
    implementation(libs.camera.core)
    implementation(libs.camera.camera2)
    implementation(libs.camera.lifecycle)
    implementation(libs.camera.view)
    implementation(libs.litert)

    // The plain-Kotlin core's JUnit tests; org.json is part of Android, not of the JVM.
    testImplementation(libs.junit)
    testImplementation(libs.org.json)

    androidTestImplementation(libs.androidx.test.ext.junit)
    androidTestImplementation(libs.androidx.test.runner)
}
