"""Reader for the OR-Library uncapacitated p-median instances (Beasley 1985).

File format: the first line is ``n_vertices n_edges p``; then one undirected edge per line,
``i j cost`` with 1-based vertices. When a pair appears twice the later line wins. Every
vertex is both a demand point (weight 1) and a candidate site; the cost between two vertices
is the shortest-path length over the graph.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from elder_coverage._errors import DataError


def read_orlib(path: str | PathLike) -> tuple[np.ndarray, int]:
    r"""Read a ``pmedN.txt`` file.

    Returns
    -------
    distances : numpy.ndarray, shape (n, n)
        All-pairs shortest-path lengths (inf between disconnected vertices).
    p : int
        Number of medians to open.

    Raises
    ------
    DataError
        Malformed header or edge line (the message names the file and line).

    Examples
    --------
    A path 1 — 2 — 3 with edges of 5 and 7, one median:

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pmed0.txt"
    >>> _ = path.write_text("3 2 1\n1 2 5\n2 3 7\n")
    >>> d, p = read_orlib(path)
    >>> d.tolist(), p
    ([[0.0, 5.0, 12.0], [5.0, 0.0, 7.0], [12.0, 7.0, 0.0]], 1)
    """
    path = Path(path)
    with path.open() as f:
        lines = f.read().splitlines()
    header = lines[0].split() if lines else []
    if len(header) != 3 or not all(t.lstrip("-").isdigit() for t in header):
        raise DataError(f"{path}:1: expected 'n_vertices n_edges p', got {lines[:1]}")
    n, n_edges, p = (int(t) for t in header)
    if n < 1 or p < 1 or p > n:
        raise DataError(f"{path}:1: bad sizes n={n}, p={p}")
    edges = []
    for k, line in enumerate(lines[1:], start=2):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise DataError(f"{path}:{k}: expected 'i j cost', got {line!r}")
        try:
            i, j, c = int(parts[0]), int(parts[1]), float(parts[2])
        except ValueError as exc:
            raise DataError(f"{path}:{k}: expected 'i j cost', got {line!r}") from exc
        if not (1 <= i <= n and 1 <= j <= n):
            raise DataError(f"{path}:{k}: vertex out of 1..{n} in {line!r}")
        if c < 0:
            raise DataError(f"{path}:{k}: negative edge cost in {line!r}")
        edges.append((i - 1, j - 1, c))
    if len(edges) != n_edges:
        raise DataError(f"{path}: header says {n_edges} edges but the file has {len(edges)}")
    arr = np.array(edges, dtype=float).reshape(-1, 3)
    a = np.minimum(arr[:, 0], arr[:, 1]).astype(np.int64)
    b = np.maximum(arr[:, 0], arr[:, 1]).astype(np.int64)
    key = a * n + b
    # The later line wins: keep the last occurrence of every unordered pair.
    _, last_rev = np.unique(key[::-1], return_index=True)
    last = key.size - 1 - last_rev
    keep = last[a[last] != b[last]]  # self-loops never shorten a path
    graph = sp.csr_array((arr[keep, 2], (a[keep], b[keep])), shape=(n, n))
    # An explicit zero-cost edge must survive as an edge, so build on the pattern.
    dist = shortest_path(graph, method="D", directed=False)
    return dist, p


def read_orlib_optima(path: str | PathLike) -> dict[str, float]:
    r"""Read ``pmedopt.txt``: instance name → proven optimal objective.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pmedopt.txt"
    >>> _ = path.write_text("pmed1 5819\npmed2 4093\n")
    >>> read_orlib_optima(path)
    {'pmed1': 5819.0, 'pmed2': 4093.0}
    """
    path = Path(path)
    out: dict[str, float] = {}
    with path.open() as f:
        for k, line in enumerate(f, start=1):
            parts = line.split()
            if len(parts) != 2 or not parts[0].startswith("pmed"):
                continue
            try:
                out[parts[0]] = float(parts[1])
            except ValueError as exc:
                raise DataError(f"{path}:{k}: bad optimum {line!r}") from exc
    if not out:
        raise DataError(f"{path}: no 'pmedN value' lines found")
    return out
