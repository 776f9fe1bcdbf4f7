"""mypy accepts the typed public API: the pipeline's stages, travel costs, coverage engine,
tables, kinds registry, the optimiser, the option vocabulary and the errors."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["coverage/elder_coverage/optimize", "coverage/elder_coverage/_validate.py",
           "coverage/elder_coverage/_errors.py", "coverage/elder_coverage/stages.py",
           "coverage/elder_coverage/costs.py", "coverage/elder_coverage/engine.py",
           "coverage/elder_coverage/tables.py", "coverage/elder_coverage/kinds.py",
           "coverage/elder_coverage/_inputs.py"]


def test_mypy_passes_on_the_public_api(tmp_path):
    # A private cache: a cache shared between checkouts can report stale results.
    cache = tmp_path / "mypy_cache"
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(cache), *CHECKED],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    shutil.rmtree(cache, ignore_errors=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success" in out.stdout
