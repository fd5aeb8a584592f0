#!/usr/bin/env bash
# Tools for the Android demo's plain-Kotlin tests (tests/test_android_core.py): JUnit 4 and
# org.json from Debian, and kotlinc at the app's own Kotlin version (android_demo/gradle/
# libs.versions.toml) from npm. Idempotent; prints where kotlinc is. The app itself needs Google's
# Maven repository and is not built here.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^kotlin *= *"\([^"]*\)".*/\1/p' android_demo/gradle/libs.versions.toml)
[ -n "$version" ] || { echo "android_demo/gradle/libs.versions.toml: no kotlin version" >&2; exit 2; }
prefix=${MOBILEKIT_KOTLIN_CACHE:-/var/cache/mobilekit}/kotlin-compiler-$version

export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in junit4 libandroid-json-java; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
command -v java >/dev/null || need+=(default-jre-headless)
command -v npm >/dev/null || need+=(nodejs npm)
if [ "${#need[@]}" -gt 0 ]; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -x "$prefix/node_modules/kotlin-compiler/bin/kotlinc-jvm" ]; then
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --silent "kotlin-compiler@$version" >/dev/null
fi
echo "kotlinc $version: $prefix/node_modules/kotlin-compiler/bin/kotlinc-jvm"
