"""``python -m mobilekit`` is the ``mobilekit`` console script."""

import sys

from mobilekit.cli import main

sys.exit(main())
