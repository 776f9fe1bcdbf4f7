"""``python -m elder_coverage``: the ``elder-coverage`` command."""

import sys

from elder_coverage.cli import main

sys.exit(main())
