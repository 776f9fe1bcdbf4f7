"""OR-Library p-median instances: the reader on hand-made files, the solver on pmed1–10.

The optima come from Beasley's pmedopt.txt, an answer published independently of this code.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from elder_coverage.optimize import p_median, read_orlib, read_orlib_optima

ORLIB = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "orlib"


def write(tmp_path: Path, text: str, name: str = "pmedX.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------------ reader


def test_shortest_paths_hand_computed(tmp_path):
    # 1 —3— 2 —4— 3 —1— 4, plus a long direct 1—3 edge (10) that the path via 2 (7) beats;
    # vertex 5 has no edge at all.
    path = write(tmp_path, "5 4 2\n1 2 3\n2 3 4\n1 3 10\n3 4 1\n")
    dist, p = read_orlib(path)
    assert p == 2
    inf = math.inf
    expected = np.array([
        [0, 3, 7, 8, inf],
        [3, 0, 4, 5, inf],
        [7, 4, 0, 1, inf],
        [8, 5, 1, 0, inf],
        [inf, inf, inf, inf, 0],
    ])
    np.testing.assert_array_equal(dist, expected)


def test_repeated_edge_later_line_wins(tmp_path):
    # The format says the later line wins, even when it is longer (not the minimum) and
    # even when the vertices are given the other way round.
    dist, _ = read_orlib(write(tmp_path, "3 3 1\n1 2 5\n2 3 1\n2 1 9\n"))
    assert dist[0, 1] == 9 and dist[1, 0] == 9
    assert dist[0, 2] == 10
    dist, _ = read_orlib(write(tmp_path, "2 2 1\n1 2 9\n1 2 2\n"))
    assert dist[0, 1] == 2


def test_zero_cost_edge_and_self_loop(tmp_path):
    # A zero-cost edge still joins its ends; a self-loop never shortens anything.
    dist, _ = read_orlib(write(tmp_path, "3 3 1\n1 2 0\n2 3 5\n3 3 2\n"))
    np.testing.assert_array_equal(dist, [[0, 0, 5], [0, 0, 5], [5, 5, 0]])


def test_blank_lines_and_surrounding_spaces_are_accepted(tmp_path):
    dist, p = read_orlib(write(tmp_path, " 2 1 1 \n\n 1 2 7 \n\n"))
    assert p == 1 and dist[0, 1] == 7


@pytest.mark.parametrize("text, line, words", [
    ("", 1, "expected 'n_vertices n_edges p'"),
    ("3 2\n1 2 1\n2 3 1\n", 1, "expected 'n_vertices n_edges p'"),
    ("three 2 1\n1 2 1\n2 3 1\n", 1, "expected 'n_vertices n_edges p'"),
    ("3 2 4\n1 2 1\n2 3 1\n", 1, "bad sizes"),
    ("3 2 0\n1 2 1\n2 3 1\n", 1, "bad sizes"),
    ("3 2 1\n1 2 1\n2 3\n", 3, "expected 'i j cost'"),
    ("3 2 1\n1 2 1\n\n2 3 x\n", 4, "expected 'i j cost'"),   # blank lines still count
    ("3 2 1\n1 2 1\n2 4 1\n", 3, "vertex out of 1..3"),
    ("3 2 1\n0 2 1\n2 3 1\n", 2, "vertex out of 1..3"),
    ("3 2 1\n1 2 -1\n2 3 1\n", 2, "negative edge cost"),
    ("3 2 1\n1 2 1 7\n2 3 1\n", 2, "expected 'i j cost'"),
])
def test_malformed_files_name_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text, "bad.txt")
    with pytest.raises(ValueError, match=re.escape(f"{path}:{line}:")) as err:
        read_orlib(path)
    assert words in str(err.value)


def test_edge_count_mismatch_names_the_file(tmp_path):
    path = write(tmp_path, "3 3 1\n1 2 1\n2 3 1\n", "short.txt")
    with pytest.raises(ValueError, match=re.escape(str(path))) as err:
        read_orlib(path)
    assert "3 edges" in str(err.value) and "has 2" in str(err.value)


def test_read_optima(tmp_path):
    path = write(tmp_path, "Data file   Optimal solution value\npmed1 5819\npmed2 4093\n\n"
                 "some note\npmed40 5128\n", "pmedopt.txt")
    assert read_orlib_optima(path) == {"pmed1": 5819.0, "pmed2": 4093.0, "pmed40": 5128.0}


def test_read_optima_errors(tmp_path):
    bad = write(tmp_path, "header\npmed1 5819\npmed2 lots\n", "opt.txt")
    with pytest.raises(ValueError, match=re.escape(f"{bad}:3:")):
        read_orlib_optima(bad)
    empty = write(tmp_path, "nothing here\n", "empty.txt")
    with pytest.raises(ValueError, match="no 'pmedN value' lines"):
        read_orlib_optima(empty)


def test_tiny_graph_p_median_by_hand(tmp_path):
    # Path 1—2—3—4—5 with unit edges and p=2: the three other vertices are each ≥ 1 away
    # from a median, and medians {2, 4} attain 1 + 0 + 1 + 0 + 1 = 3.
    dist, p = read_orlib(write(tmp_path, "5 4 2\n1 2 1\n2 3 1\n3 4 1\n4 5 1\n"))
    res = p_median(dist, p)
    assert res.status == "optimal" and res.objective == 3.0


# ------------------------------------------------------------------ the benchmark


@pytest.fixture(scope="module")
def orlib() -> Path:
    if not (ORLIB / "pmedopt.txt").exists():
        pytest.skip(f"OR-Library benchmark files absent: {ORLIB} (the workplace's shared/ "
                    "folder with pmed1.txt … pmed40.txt and pmedopt.txt)")
    return ORLIB


@pytest.fixture(scope="module")
def optima(orlib) -> dict[str, float]:
    return read_orlib_optima(orlib / "pmedopt.txt")


def test_benchmark_optima_file(optima):
    assert len(optima) == 40
    assert optima["pmed1"] == 5819 and optima["pmed40"] == 5128


@pytest.mark.parametrize("k", range(1, 11))
def test_pmed_reaches_the_published_optimum(orlib, optima, k):
    dist, p = read_orlib(orlib / f"pmed{k}.txt")
    n = 100 if k <= 5 else 200
    assert dist.shape == (n, n)
    # Undirected, connected graph: symmetric, zero diagonal, all finite.
    assert np.all(np.isfinite(dist)) and np.array_equal(dist, dist.T)
    assert np.all(np.diag(dist) == 0)
    res = p_median(dist, p, time_limit=60)
    assert res.status == "optimal", res.message
    assert res.objective == optima[f"pmed{k}"]
    assert res.gap == pytest.approx(0.0, abs=1e-9)
    assert res.bound <= res.objective
    assert len(res.sites) == p
    # Recompute from the sites: every vertex to its nearest median.
    assert dist[:, res.sites].min(axis=1).sum() == optima[f"pmed{k}"]


def test_pmed2_heuristic_brackets_the_optimum(orlib, optima):
    dist, p = read_orlib(orlib / "pmed2.txt")
    res = p_median(dist, p, method="heuristic")
    assert res.status in ("feasible", "optimal")
    assert res.bound <= optima["pmed2"] <= res.objective
