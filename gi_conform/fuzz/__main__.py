"""``python -m gi_conform.fuzz``: see :mod:`gi_conform.fuzz.cli`."""

import sys

from gi_conform.fuzz.cli import main

sys.exit(main())
