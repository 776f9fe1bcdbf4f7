"""Which sites must, may or may not open: fixed, forbidden and per-group minimums.

These rules are shared by every model so that "keep the existing centres", "never open on
that plot" and "at least one centre per township" mean the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from elder_coverage._errors import SettingsError
from elder_coverage._validate import count


@dataclass(frozen=True, eq=False)
class SiteRules:
    """Validated site rules over ``n_sites`` columns.

    Attributes
    ----------
    fixed, forbidden : numpy.ndarray of bool
        Per site: must open / may not open.
    group : numpy.ndarray of int or None
        Internal group number per site (0..n_groups-1), from the caller's labels.
    labels : numpy.ndarray or None
        The caller's label of each internal group number.
    group_min : numpy.ndarray of int
        Minimum number of open sites per internal group (0 = no requirement).
    """

    n_sites: int
    fixed: np.ndarray
    forbidden: np.ndarray
    group: np.ndarray | None
    labels: np.ndarray | None
    group_min: np.ndarray

    @property
    def allowed(self) -> np.ndarray:
        return ~self.forbidden

    @property
    def candidates(self) -> np.ndarray:
        """Sites the model decides on: allowed and not fixed."""
        return ~self.forbidden & ~self.fixed

    @property
    def has_group_minimums(self) -> bool:
        return bool(self.group_min.size and self.group_min.max() > 0)

    def minimum_sites(self) -> int:
        """Fewest open sites any solution has (fixed sites plus unmet group minimums)."""
        return int(self.fixed.sum()) + int(self.deficits().sum())

    def deficits(self) -> np.ndarray:
        """Per group, how many more sites beyond the fixed ones must open."""
        if not self.has_group_minimums or self.group is None:
            return np.zeros(self.group_min.size, np.int64)
        fixed_per = np.bincount(self.group[self.fixed], minlength=self.group_min.size)
        return np.maximum(self.group_min - fixed_per, 0)

    def problems(self, p: int | None = None) -> str:
        """Why no site set satisfies these rules (with exactly ``p`` open), or ``""``."""
        if self.has_group_minimums and self.group is not None and self.labels is not None:
            allowed_per = np.bincount(self.group[self.allowed], minlength=self.group_min.size)
            short = np.flatnonzero(allowed_per < self.group_min)
            if short.size:
                g = short[0]
                return (f"group {self.labels[g]!r} needs at least {self.group_min[g]} open sites "
                        f"but has only {allowed_per[g]} allowed (not forbidden) sites"
                        + (f" ({short.size} groups short)" if short.size > 1 else ""))
        if p is None:
            return ""
        if p == 0:
            # Like p above the allowed sites: a request no site set meets, not a malformed one.
            return "p=0 opens no site; p counts every open site (fixed ones included)"
        n_fixed = int(self.fixed.sum())
        n_allowed = int(self.allowed.sum())
        if n_fixed > p:
            return f"{n_fixed} sites are fixed open but p={p}: p counts fixed sites too"
        if n_allowed < p:
            return (f"p={p} but only {n_allowed} of {self.n_sites} sites may open "
                    f"({int(self.forbidden.sum())} forbidden)")
        need = self.minimum_sites()
        if need > p:
            return (f"p={p} is too small: the fixed sites and per-group minimums need at least "
                    f"{need} open sites")
        return ""


def _site_mask(value, n_sites: int, name: str) -> np.ndarray:
    mask = np.zeros(n_sites, bool)
    if value is None:
        return mask
    arr = np.asarray(value)
    if arr.dtype == bool:
        if arr.shape != (n_sites,):
            raise SettingsError(f"{name} as a boolean mask must have length {n_sites} (one per "
                                f"site); got shape {arr.shape}")
        return arr.copy()
    arr = arr.reshape(-1)
    if arr.size == 0:
        return mask
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise SettingsError(f"{name} must hold site indices (integers) or a boolean mask; "
                                f"got dtype {arr.dtype}")
    bad = arr[(arr < 0) | (arr >= n_sites)]
    if bad.size:
        raise SettingsError(f"{name} contains site index {bad[0]}, outside 0..{n_sites - 1}")
    mask[arr] = True
    return mask


def site_rules(n_sites: int, fixed=None, forbidden=None, groups=None,
               min_per_group: int | Mapping | None = None) -> SiteRules:
    """Validate and combine the site options shared by all models.

    Parameters
    ----------
    n_sites : int
        Number of site columns.
    fixed : array_like of int or bool, optional
        Sites that must be open (existing or required). They count towards ``p``.
    forbidden : array_like of int or bool, optional
        Sites that may not open.
    groups : array_like, optional
        Group label per site (e.g. township code), length ``n_sites``.
    min_per_group : int or mapping, optional
        At least this many open sites in every group that has an allowed site (int), or
        per group label (mapping label → count).

    Raises
    ------
    SettingsError
        Malformed arguments: indices out of range, a site both fixed and forbidden, wrong
        lengths, unknown group labels, negative minimums, minimums without groups.
    """
    fixed_m = _site_mask(fixed, n_sites, "fixed")
    forb_m = _site_mask(forbidden, n_sites, "forbidden")
    both = np.flatnonzero(fixed_m & forb_m)
    if both.size:
        raise SettingsError(f"site {both[0]} is both fixed and forbidden ({both.size} such sites)")
    if groups is None:
        if min_per_group is not None:
            raise SettingsError("min_per_group needs groups (a group label per site)")
        return SiteRules(n_sites, fixed_m, forb_m, None, None, np.zeros(0, np.int64))
    labels_in = np.asarray(groups)
    if labels_in.shape != (n_sites,):
        raise SettingsError(f"groups must have one label per site (length {n_sites}); "
                            f"got shape {labels_in.shape}")
    labels, group = np.unique(labels_in, return_inverse=True)
    group = group.astype(np.int64)
    gmin = np.zeros(labels.size, np.int64)
    if isinstance(min_per_group, Mapping):
        index = {lab.item() if hasattr(lab, "item") else lab: g for g, lab in enumerate(labels)}
        for key, k in min_per_group.items():
            kk = key.item() if hasattr(key, "item") else key
            if kk not in index:
                raise SettingsError(f"min_per_group names group {key!r}, which no site has")
            gmin[index[kk]] = count(f"min_per_group[{key!r}]", k)
    elif min_per_group is not None:
        k = count("min_per_group", min_per_group)
        # An int applies to every group that has somewhere to open.
        has_allowed = np.bincount(group[~forb_m], minlength=labels.size) > 0
        gmin[has_allowed] = k
    return SiteRules(n_sites, fixed_m, forb_m, group, labels, gmin)


def select_cheapest(score: np.ndarray, k: int, fixed: np.ndarray, usable: np.ndarray,
                    group: np.ndarray | None, deficit: np.ndarray | None) -> np.ndarray:
    """Exactly ``k`` sites of least total ``score``: fixed ones, group deficits, then the rest.

    Taking the cheapest sites of each group up to its deficit and then the cheapest overall is
    optimal for a total count plus per-group minimums (an exchange argument on each group).
    Returns a boolean mask; ties go to the lower index.
    """
    chosen = fixed.copy()
    free = usable & ~fixed
    left = k - int(chosen.sum())
    if group is not None and deficit is not None and deficit.any():
        cand = np.flatnonzero(free & (deficit[group] > 0))
        order = cand[np.lexsort((cand, score[cand], group[cand]))]
        g = group[order]
        start = np.searchsorted(g, g, side="left")
        rank = np.arange(order.size) - start
        pick = order[rank < deficit[g]]
        chosen[pick] = True
        left -= pick.size
    if left > 0:
        rest = np.flatnonzero(free & ~chosen)
        order = rest[np.lexsort((rest, score[rest]))]
        chosen[order[:left]] = True
    return chosen
