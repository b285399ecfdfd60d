"""``cmd:`` implementations that misbehave: ``python cmd_misbehaving.py MODE XML [MARKER]``.

flood     prints endless output (gigabytes if nobody stops it)
segv      kills itself with SIGSEGV
silent    exits 1 with no message at all (a rejection without words)
garbage   exits 0 with binary garbage on stdout
orphan    leaves a sleeping grandchild (marker in its argv) and hangs
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


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
    if mode == "orphan":
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", marker])
        time.sleep(300)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
