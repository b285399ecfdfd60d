"""The documentation built once per session, as ``tox -e docs`` builds it (warnings are
errors), or a skip that says how to get Sphinx."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

DOCS_PACKAGES = ("sphinx", "myst_parser", "furo")
SPHINX_BUILD = (sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html")
"""tox -e docs's command: warnings are errors, every one reported."""


@pytest.fixture(scope="session")
def built_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML folder of a fresh ``sphinx-build -W --keep-going -n`` of ``docs/``."""
    missing = [name for name in DOCS_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}: pip install -e '.[docs]' (.ci/setup does)")
    out = tmp_path_factory.mktemp("docs") / "html"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [*SPHINX_BUILD, "-d", str(out.parent / "doctrees"), str(ROOT / "docs"), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"the docs build warned or failed:\n{done.stderr[-4000:]}"
    return out
