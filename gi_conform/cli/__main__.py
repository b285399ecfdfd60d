"""``python -m gi_conform.cli``: the same as the ``gi-conform`` command."""

from gi_conform.cli.main import main

raise SystemExit(main())
