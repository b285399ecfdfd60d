"""Stage 7, the ``gi-conform`` command line: ``main`` builds the parser and dispatches to
one module per command family (``document``: argv, validate, fmt; ``qemu``; ``libvirt``;
``check``); ``common`` owns the exit statuses, :class:`~gi_conform.cli.common.UsageError`,
input reading, argparse types and shared options. Command modules import ``common``,
never ``main``."""
