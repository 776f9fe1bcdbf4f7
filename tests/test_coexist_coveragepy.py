"""elder-coverage installs beside coverage.py: distinct import names, both importable."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_imports_beside_coverage_py():
    # pytest-cov (a dev dependency) brings coverage.py into the same environment.
    coveragepy = pytest.importorskip("coverage", reason="coverage.py (pytest-cov) not installed")
    import elder_coverage

    assert hasattr(coveragepy, "Coverage"), "'coverage' should be coverage.py"
    assert elder_coverage.__file__ != coveragepy.__file__
    assert elder_coverage.__version__ not in ("", "0+unknown")


def test_command_runs_with_coverage_py_first_on_path():
    # A fresh interpreter imports coverage.py first, then runs the command's help.
    code = (
        "import coverage, sys; assert hasattr(coverage, 'Coverage'); "
        "from elder_coverage.cli import main; sys.exit(main(['--help']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "elder-coverage" in proc.stdout
