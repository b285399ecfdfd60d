"""Stage 7, the ``gi-conform`` command line: ``main`` dispatches to one module per command
family; ``common`` holds exit codes, input reading and argparse types."""
