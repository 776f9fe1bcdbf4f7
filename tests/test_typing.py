"""mypy accepts the typed public API: the pipeline's stages, travel costs and routing, coverage
engine, tables, kinds registry, the optimiser, the option vocabulary, the errors, scenario,
standards, study loading, close/merge, new sites, access, the runner and the command.

Not yet checked: the readers and writers (``io/``), the map (``maps/``), the sample builder
(``sample/``), the national runs (``national/``), ``demand``, ``indicators``, ``report``."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["coverage/elder_coverage/optimize", "coverage/elder_coverage/_validate.py",
           "coverage/elder_coverage/_errors.py", "coverage/elder_coverage/stages.py",
           "coverage/elder_coverage/costs.py", "coverage/elder_coverage/engine.py",
           "coverage/elder_coverage/tables.py", "coverage/elder_coverage/kinds.py",
           "coverage/elder_coverage/_inputs.py", "coverage/elder_coverage/travel.py",
           "coverage/elder_coverage/study.py", "coverage/elder_coverage/standards.py",
           "coverage/elder_coverage/scenario.py", "coverage/elder_coverage/runner.py",
           "coverage/elder_coverage/close_merge.py", "coverage/elder_coverage/new_sites.py",
           "coverage/elder_coverage/policy.py", "coverage/elder_coverage/access.py",
           "coverage/elder_coverage/isochrones.py", "coverage/elder_coverage/cli.py",
           "coverage/elder_coverage/compare.py"]


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
