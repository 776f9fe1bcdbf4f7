"""HiGHS's copyright banner must not reach a planner's command-line output."""

import subprocess
import sys

SCRIPT = """
import numpy as np
from elder_coverage.optimize import set_cover
print("before")
r = set_cover(np.array([[1.0, 2.0], [3.0, 1.0], [2.0, 2.0]]), 1.5)
print("after", r.status, int(r.objective))
"""


def test_first_solve_prints_only_our_lines():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True)
    # Rows 0 and 1 need sites 0 and 1; row 2 is beyond 1.5 of both and is only reported.
    assert out.stdout.splitlines() == ["before", "after optimal 2"]
    assert "HiGHS" not in out.stderr
