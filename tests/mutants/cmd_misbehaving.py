"""``cmd:`` implementations that misbehave: ``python cmd_misbehaving.py MODE XML [MARKER]``.

flood     prints endless output (gigabytes if nobody stops it)
segv      kills itself with SIGSEGV
silent    exits 1 with no message at all (no rejection line: a crash)
garbage   exits 0 with binary garbage on stdout
hello     exits 0 with ``hello world`` on stdout: text, but no command line
wordy     exits 1 with a message that has no rejection line (``cannot convert``)
exit2     prints an ``error:`` line and exits 2 (a rejection exits 1)
raises    prints an ``error:`` line, then an exception escapes (exit 1, a traceback)
hidden    an exception escapes behind ``|| true`` style masking: exit 0, nothing on
          stdout, the traceback on stderr
orphan    leaves a sleeping grandchild (marker in its argv) and hangs
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import traceback


def main() -> int:
    mode = sys.argv[1]
    marker = sys.argv[3] if len(sys.argv) > 3 else "gi-conform-orphan"
    if mode == "flood":
        chunk = b"-numa node,nodeid=0 \\\n" * 50000
        while True:
            sys.stdout.buffer.write(chunk)
    if mode == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if mode == "silent":
        return 1
    if mode == "garbage":
        sys.stdout.buffer.write(bytes(range(256)) * 4)
        return 0
    if mode == "hello":
        print("hello world")
        return 0
    if mode == "wordy":
        print("cannot convert this document", file=sys.stderr)
        return 1
    if mode == "exit2":
        print("error: cannot convert this document", file=sys.stderr)
        return 2
    if mode in ("raises", "hidden"):
        print("error: cannot convert this document", file=sys.stderr, flush=True)
        cells: dict[str, int] = {}
        try:
            return cells["cells"]  # the careless lookup whose KeyError escapes
        except KeyError:
            if mode == "raises":
                raise
            traceback.print_exc()
            return 0
    if mode == "orphan":
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", marker])
        time.sleep(300)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
