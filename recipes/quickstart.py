#!/usr/bin/env python3
"""Recipe: the quickstart — a small MobileNetV1, standard vs separable, on the embedded data.

Trains both variants briefly, exports fp32 and int8 bundles, verifies them against Keras,
benchmarks them locally and writes report.md. Same code as ``mobilekit quickstart``.

    python recipes/quickstart.py [--out DIR] [--epochs N] [--runs N] [--json]
"""

import sys

from mobilekit.cli import main

if __name__ == "__main__":
    sys.exit(main(["quickstart", *sys.argv[1:]]))
