"""Shared by the optimiser tests: small random instances, subset enumeration, strategies.

Brute-force references read only the dense matrix (NaN = unreachable) and enumerate what
the rules allow in plain Python; they never call the optimiser's own helpers.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from hypothesis import strategies as st
from scipy.spatial.distance import cdist


def random_instance(seed: int, n: int = 8, m: int = 6, unreachable: float = 0.3):
    rng = np.random.default_rng(seed)
    cost = rng.integers(0, 30, size=(n, m)).astype(float)
    cost[rng.random((n, m)) < unreachable] = np.nan
    w = rng.integers(1, 6, size=n).astype(float)
    return cost, w


def group_needs(groups, min_per_group, forbidden):
    """Label → minimum; an int applies only to groups with some allowed site (documented)."""
    if groups is None or min_per_group is None:
        return {}
    if isinstance(min_per_group, dict):
        return dict(min_per_group)
    return {groups[j]: min_per_group for j in range(len(groups)) if j not in forbidden}


def allowed_subsets(m, k=None, fixed=(), forbidden=(), groups=None, min_per_group=None):
    """Every site set of size k (any size when k is None) that the rules permit."""
    fixed, forbidden = set(fixed), set(forbidden)
    allowed = [j for j in range(m) if j not in forbidden]
    need = group_needs(groups, min_per_group, forbidden)
    sizes = range(len(allowed) + 1) if k is None else [k]
    for size in sizes:
        for subset in combinations(allowed, size):
            if not fixed <= set(subset):
                continue
            if any(sum(groups[j] == g for j in subset) < c for g, c in need.items()):
                continue
            yield subset


@st.composite
def cover_cases(draw, max_n: int = 8, max_m: int = 7):
    """(cost, w, p, fixed, forbidden, limit): NaN holes, integer costs and weights."""
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    cells = draw(st.lists(st.one_of(st.none(), st.integers(0, 20)), min_size=n * m,
                          max_size=n * m))
    cost = np.array([np.nan if c is None else float(c) for c in cells]).reshape(n, m)
    w = np.array(draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)), float)
    forbidden = sorted(draw(st.sets(st.integers(0, m - 1), max_size=m - 1)))
    allowed = [j for j in range(m) if j not in forbidden]
    p = draw(st.integers(1, len(allowed)))
    fixed = sorted(draw(st.sets(st.sampled_from(allowed), max_size=p)))
    limit = float(draw(st.sampled_from([0, 5, 10, 15, np.inf])))
    return cost, w, p, fixed, forbidden, limit


def depth(cost, i, sites, limit):
    """How many of the sites are within the limit of row i (NaN never is)."""
    return sum(1 for j in sites if cost[i, j] <= limit)


def planar_instance(seed: int, n: int, m: int, max_w: int = 30):
    """Points and sites in a unit square, cost = rounded distance × 1000, weights 1..max_w-1."""
    rng = np.random.default_rng(seed)
    cost = np.round(1000 * cdist(rng.random((n, 2)), rng.random((m, 2))))
    return cost, rng.integers(1, max_w, n).astype(float)
