"""Service standards: the distance or travel time within which a facility serves an elder.

The defaults ship as ``coverage/standards.yaml`` (each value's reason is written next to it):

- ``county_home``: network, drive, 30 min (straight-line fallback 25 km)
- ``township_centre``: network, drive, 20 min (12 km)
- ``rural_courtyard``, ``dining_hall``, ``day_care``: network, walk, 15 min (1 km)

Walking kinds use the quarter-hour (一刻钟) circle at an elderly pace (3.0 km/h); the county
home and township centre are reached by car. ``radius_m`` is the straight-line limit, used when
``mode`` is ``straight_line`` or when no road graph is available. Off-network access (joining a
point to its nearest road edge) is travelled at ``access.walk_kmh`` / ``access.drive_kmh`` (a
graph that declares its own ``walk_kph`` and seasonal factors overrides these, see
:func:`elder_coverage.costs.access_metres_per_minute`); direct off-road trips cost the
straight-line distance times ``access.walk_detour`` / ``access.drive_detour`` at that speed.

A scenario overrides any value with a nested dict in the same layout, e.g.
``{"kinds": {"dining_hall": {"minutes": 10}}}`` (the ``kinds`` level may be left out).
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from elder_coverage._errors import SettingsError
from elder_coverage.schema import FACILITY_KINDS

MODES: tuple[str, ...] = ("network", "straight_line")
TRAVEL_MODES: tuple[str, ...] = ("walk", "drive")
_KIND_KEYS: tuple[str, ...] = ("mode", "travel", "minutes", "radius_m")
_ACCESS_KEYS: tuple[str, ...] = ("walk_kmh", "drive_kmh", "walk_detour", "drive_detour",
                                 "max_snap_m")
_TOP_KEYS: tuple[str, ...] = ("kinds", "access")


class StandardsError(SettingsError):
    """A service standard is missing, unknown or out of range; the message names the key."""


@dataclass(frozen=True)
class KindStandard:
    """Coverage rule for one facility kind.

    Attributes
    ----------
    kind : str
        Facility kind (one of :data:`elder_coverage.schema.FACILITY_KINDS`).
    mode : {"network", "straight_line"}
        Which measure decides coverage.
    travel : {"walk", "drive"}
        Road-graph weight used for travel times (``walk_min`` or ``drive_min``).
    minutes : float
        Network travel-time limit (minutes).
    radius_m : float
        Straight-line limit (metres); also the fallback when no graph is given.
    """

    kind: str
    mode: str
    travel: str
    minutes: float
    radius_m: float

    def uses_network(self, have_graph: bool) -> bool:
        """True when coverage is decided by network time (network mode and a graph given)."""
        return self.mode == "network" and have_graph


@dataclass(frozen=True)
class AccessRules:
    """How points join the road network.

    Attributes
    ----------
    walk_kmh, drive_kmh : float
        Off-network speed (km/h): over the straight-line gap between a point and its nearest
        road edge, and on direct off-road trips.
    walk_detour, drive_detour : float
        Detour factor (>= 1) of a direct off-road trip: its length is the straight-line
        distance times this factor.
    max_snap_m : float
        A point joins the road only when its nearest usable edge is within this distance (m)
        or within the off-network reach of the mode's longest standard.
    """

    walk_kmh: float
    drive_kmh: float
    max_snap_m: float
    walk_detour: float = 1.3
    drive_detour: float = 1.4

    def metres_per_minute(self, travel: str) -> float:
        """Off-network speed for ``travel`` ("walk" or "drive") in metres per minute."""
        if travel not in TRAVEL_MODES:
            raise StandardsError(f"travel mode {travel!r}: expected one of {TRAVEL_MODES}")
        kmh = self.walk_kmh if travel == "walk" else self.drive_kmh
        return kmh * 1000.0 / 60.0

    def detour(self, travel: str) -> float:
        """Detour factor of a direct off-road trip for ``travel`` ("walk" or "drive")."""
        if travel not in TRAVEL_MODES:
            raise StandardsError(f"travel mode {travel!r}: expected one of {TRAVEL_MODES}")
        return self.walk_detour if travel == "walk" else self.drive_detour


@dataclass(frozen=True)
class Standards:
    """Validated service standards for every facility kind plus the network-access rules."""

    kinds: Mapping[str, KindStandard]
    access: AccessRules

    def __getitem__(self, kind: str) -> KindStandard:
        try:
            return self.kinds[kind]
        except KeyError:
            raise StandardsError(
                f"facility kind {kind!r} has no service standard; "
                f"standards exist for {sorted(self.kinds)}"
            ) from None

    def __contains__(self, kind: object) -> bool:
        return kind in self.kinds

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict in the YAML layout (for reports and scenario files)."""
        return {
            "kinds": {
                k: {"mode": s.mode, "travel": s.travel, "minutes": s.minutes,
                    "radius_m": s.radius_m}
                for k, s in self.kinds.items()
            },
            "access": {
                "walk_kmh": self.access.walk_kmh,
                "drive_kmh": self.access.drive_kmh,
                "walk_detour": self.access.walk_detour,
                "drive_detour": self.access.drive_detour,
                "max_snap_m": self.access.max_snap_m,
            },
        }


def default_standards_path() -> Path:
    """Path of the ``standards.yaml`` shipped with the package."""
    return Path(str(resources.files("elder_coverage").joinpath("standards.yaml")))


def load_standards(
    overrides: Mapping[str, Any] | None = None,
    path: str | Path | None = None,
) -> Standards:
    """Read the service standards and merge scenario overrides on top.

    Parameters
    ----------
    overrides : mapping, optional
        Nested dict in the YAML layout (``{"kinds": {kind: {key: value}}, "access": {...}}``);
        facility kinds may also be given at the top level. Only the keys given are replaced.
    path : str or Path, optional
        YAML file to start from; defaults to the packaged ``standards.yaml``.

    Returns
    -------
    Standards

    Raises
    ------
    StandardsError
        Unknown kind or key, bad ``mode``/``travel``, a non-positive or non-numeric limit, or a
        kind left without a required value. The message names the offending key (and file).
    """
    src = Path(path) if path is not None else default_standards_path()
    try:
        stat = src.stat()
        base = copy.deepcopy(_read_yaml(str(src), stat.st_mtime_ns, stat.st_size))
    except OSError as exc:
        raise StandardsError(f"{src}: cannot read service standards ({exc})") from exc
    except yaml.YAMLError as exc:
        raise StandardsError(f"{src}: not valid YAML ({exc})") from exc
    if not isinstance(base, Mapping):
        raise StandardsError(f"{src}: expected a mapping with 'kinds' and 'access'")
    merged = _merge(copy.deepcopy(dict(base)), _normalise_overrides(overrides or {}), "")
    where = f"{src}" if not overrides else f"{src} with scenario overrides"
    try:
        return _validate(merged)
    except StandardsError as exc:
        raise StandardsError(f"{where}: {exc}") from None


@functools.lru_cache(maxsize=16)
def _read_yaml(path: str, mtime_ns: int, size: int) -> Any:
    # Keyed on modification time and size so an edited file is read again; the optimiser
    # calls the engine in loops and re-parsing YAML each time would dominate small runs.
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def resolve_standards(standards: Standards | Mapping[str, Any] | None) -> Standards:
    """Accept a :class:`Standards`, an override dict, or None (packaged defaults)."""
    if isinstance(standards, Standards):
        return standards
    return load_standards(standards)


def _normalise_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(overrides, Mapping):
        raise StandardsError(f"overrides: expected a mapping, got {type(overrides).__name__}")
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if key in FACILITY_KINDS:
            out.setdefault("kinds", {})
            if key in out["kinds"]:
                raise StandardsError(f"overrides: kind {key!r} given both at top level and "
                                     "under 'kinds'")
            out["kinds"][key] = value
        elif key in _TOP_KEYS:
            if not isinstance(value, Mapping):
                raise StandardsError(f"overrides.{key}: expected a mapping")
            for sub, subval in value.items():
                if key == "kinds" and sub in out.get("kinds", {}):
                    raise StandardsError(f"overrides: kind {sub!r} given both at top level "
                                         "and under 'kinds'")
                out.setdefault(key, {})[sub] = subval
        else:
            raise StandardsError(
                f"overrides.{key}: unknown key; expected 'kinds', 'access' or a facility kind "
                f"{FACILITY_KINDS}"
            )
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    for key, value in over.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            current = base.get(key)
            if current is None:
                current = {}
            elif not isinstance(current, Mapping):
                raise StandardsError(f"{name}: expected a value, got a mapping")
            base[key] = _merge(dict(current), value, name + ".")
        else:
            base[key] = value
    return base


def _positive(value: Any, name: str) -> float:
    # bool is an int subclass; `minutes: yes` is a typo, not 1 minute.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StandardsError(f"{name}: expected a positive number, got {value!r}")
    out = float(value)
    if not math.isfinite(out) or out <= 0:
        raise StandardsError(f"{name}: must be a positive finite number, got {value!r}")
    return out


def _detour(value: Any, name: str) -> float:
    out = _positive(value, name)
    if out < 1.0:
        raise StandardsError(f"{name}: a detour factor is at least 1 (a trip is never shorter "
                             f"than the straight line), got {value!r}")
    return out


def _validate(raw: Mapping[str, Any]) -> Standards:
    unknown = set(raw) - set(_TOP_KEYS)
    if unknown:
        raise StandardsError(f"{sorted(unknown)[0]}: unknown top-level key; expected {_TOP_KEYS}")
    kinds_raw = raw.get("kinds")
    if not isinstance(kinds_raw, Mapping) or not kinds_raw:
        raise StandardsError("kinds: must map facility kinds to their standard")
    kinds: dict[str, KindStandard] = {}
    for kind, spec in kinds_raw.items():
        name = f"kinds.{kind}"
        if kind not in FACILITY_KINDS:
            raise StandardsError(f"{name}: unknown facility kind; expected one of {FACILITY_KINDS}")
        if not isinstance(spec, Mapping):
            raise StandardsError(f"{name}: expected a mapping of {_KIND_KEYS}")
        bad = set(spec) - set(_KIND_KEYS)
        if bad:
            raise StandardsError(f"{name}.{sorted(bad)[0]}: unknown key; expected one of "
                                 f"{_KIND_KEYS}")
        missing = [k for k in _KIND_KEYS if spec.get(k) is None]
        if missing:
            raise StandardsError(f"{name}.{missing[0]}: missing (every kind needs {_KIND_KEYS})")
        if spec["mode"] not in MODES:
            raise StandardsError(f"{name}.mode: {spec['mode']!r} is not one of {MODES}")
        if spec["travel"] not in TRAVEL_MODES:
            raise StandardsError(f"{name}.travel: {spec['travel']!r} is not one of "
                                 f"{TRAVEL_MODES}")
        kinds[kind] = KindStandard(
            kind=kind,
            mode=spec["mode"],
            travel=spec["travel"],
            minutes=_positive(spec["minutes"], f"{name}.minutes"),
            radius_m=_positive(spec["radius_m"], f"{name}.radius_m"),
        )
    access_raw = raw.get("access")
    if not isinstance(access_raw, Mapping):
        raise StandardsError(f"access: must give {_ACCESS_KEYS}")
    bad = set(access_raw) - set(_ACCESS_KEYS)
    if bad:
        raise StandardsError(f"access.{sorted(bad)[0]}: unknown key; expected one of "
                             f"{_ACCESS_KEYS}")
    for key in _ACCESS_KEYS:
        if access_raw.get(key) is None:
            raise StandardsError(f"access.{key}: missing")
    access = AccessRules(
        walk_kmh=_positive(access_raw["walk_kmh"], "access.walk_kmh"),
        drive_kmh=_positive(access_raw["drive_kmh"], "access.drive_kmh"),
        max_snap_m=_positive(access_raw["max_snap_m"], "access.max_snap_m"),
        walk_detour=_detour(access_raw["walk_detour"], "access.walk_detour"),
        drive_detour=_detour(access_raw["drive_detour"], "access.drive_detour"),
    )
    return Standards(kinds=kinds, access=access)
