"""Scenario files: what to analyse, on which inputs, and where to write it.

A scenario is a YAML file, loaded with ``yaml.safe_load`` (no code runs from YAML) and
validated completely before any work starts. Every message names the file and the key
(``analyses.new_sites.target``) and says what is allowed. Input paths are relative to the
scenario file; output names must stay inside the output folder chosen on the command line.

Example::

    name: baseline
    study_area: {sample: jilin_city_rural}
    analyses:
      coverage: {}
      new_sites: {kind: dining_hall, target: 1.0, measure: townships}
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message names the file and key."""


SAMPLE_AREAS = ("jilin_city_rural", "province")
LANGS = ("zh", "en")
ROAD_CHOICES = ("sample", "straight_line")
NEW_SITE_KINDS = ("dining_hall", "rural_courtyard", "day_care", "township_centre")
MEASURES = ("elders", "townships", "villages")
CANDIDATES = ("villages", "seats", "both")
OUTPUT_KEYS = ("map", "report", "geopackage")
TOP_KEYS = ("name", "description", "lang", "study_area", "inputs", "standards", "analyses",
            "outputs")
STUDY_AREA_KEYS = ("sample", "counties", "boundary")
INPUT_KEYS = ("population", "facilities", "roads", "townships", "villages")
POPULATION_KEYS = ("worldpop_dir", "raster", "table", "column", "age_floor", "year", "iso")


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. Paths are absolute; ``outputs`` are names inside the out folder."""

    name: str
    source: Path | None
    description: str = ""
    lang: str = "zh"
    sample: str | None = "jilin_city_rural"
    counties: tuple[str, ...] = ()
    boundary: Path | None = None
    population: dict[str, Any] = field(default_factory=dict)
    facilities: Path | None = None
    roads: str | Path = "sample"
    townships: Path | None = None
    villages: Path | None = None
    standards: dict[str, Any] = field(default_factory=dict)
    analyses: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    #: How to read ``facilities`` / ``villages`` given as mappings: ``coordinates``
    #: (wgs84, gcj02, bd09) and ``sheet`` of an Excel workbook.
    input_options: dict[str, dict[str, Any]] = field(default_factory=dict)


# --- small validators -------------------------------------------------------------------

class _Ctx:
    def __init__(self, source: Path | None) -> None:
        self.source = source
        self.base = source.parent if source else Path.cwd()

    def fail(self, key: str, message: str) -> ScenarioError:
        where = f"{self.source}: " if self.source else ""
        return ScenarioError(f"{where}{key}: {message}")


def _mapping(ctx: _Ctx, key: str, value: Any, allowed: Mapping[str, Any]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ctx.fail(key, f"must be a mapping, got {type(value).__name__} {value!r}")
    for k in value:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), list(allowed), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            name = f"{key}.{k}" if key else str(k)
            raise ctx.fail(name, f"unknown key (allowed: {', '.join(allowed)}){hint}")
    return dict(value)


def _str(ctx: _Ctx, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ctx.fail(key, f"must be a non-empty string, got {value!r}")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[_Ctx, str, Any], str]:
    def check(ctx: _Ctx, key: str, value: Any) -> str:
        if value not in options:
            raise ctx.fail(key, f"must be one of {', '.join(options)}, got {value!r}")
        return value

    return check


def _number(lo: float | None = None, hi: float | None = None, integer: bool = False):
    def check(ctx: _Ctx, key: str, value: Any) -> float | int:
        ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type:
            kind = "an integer" if integer else "a number"
            raise ctx.fail(key, f"must be {kind}, got {type(value).__name__} {value!r}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ctx.fail(key, f"must be between {lo} and {hi}, got {value!r}")
        return value

    return check


def _bool(ctx: _Ctx, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ctx.fail(key, f"must be true or false, got {value!r}")
    return value


def _input_path(ctx: _Ctx, key: str, value: Any, directory: bool = False) -> Path:
    text = _str(ctx, key, value)
    path = (ctx.base / text).resolve()
    if directory and not path.is_dir():
        raise ctx.fail(key, f"folder not found: {path}")
    if not directory and not path.is_file():
        raise ctx.fail(key, f"file not found: {path}")
    return path


def _output_name(ctx: _Ctx, key: str, value: Any) -> str:
    text = _str(ctx, key, value)
    pure = PurePosixPath(text.replace("\\", "/"))
    if pure.is_absolute() or Path(text).is_absolute() or ".." in pure.parts:
        raise ctx.fail(key, f"must be a file name inside the output folder, got {text!r}")
    return str(pure)


def _county_list(ctx: _Ctx, key: str, value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for i, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, int | str) or str(item).strip() == "":
            raise ctx.fail(f"{key}[{i}]", f"must be a county code or name, got {item!r}")
        out.append(str(item).strip())
    return tuple(out)


# --- sections ---------------------------------------------------------------------------

_ANALYSES = {
    "coverage": {"age_floor": _choice(("60", "65", "80"))},
    "close_merge": {
        "county": None,
        "kind": _choice(("township_centre",)),
        "close": None,
        "built_before": _number(1900, 2100, integer=True),
        "min_occupancy": _number(0, 1),
        "require_fire_safety": _bool,
        "coverage_target": _number(0, 1),
        "max_distance_km": _number(0, None),
        "time_limit_s": _number(1, 3600),
    },
    "new_sites": {
        "kind": _choice(NEW_SITE_KINDS),
        "target": _number(0, 1),
        "max_new": _number(1, 100_000, integer=True),
        "measure": _choice(MEASURES),
        "candidates": _choice(CANDIDATES),
        "county": None,
        "time_limit_s": _number(1, 3600),
    },
}


def _analyses(ctx: _Ctx, raw: Any) -> dict[str, dict[str, Any]]:
    sections = _mapping(ctx, "analyses", raw, _ANALYSES)
    if not sections:
        raise ctx.fail("analyses", f"name at least one analysis ({', '.join(_ANALYSES)})")
    out: dict[str, dict[str, Any]] = {}
    for name, body in sections.items():
        spec = _ANALYSES[name]
        body = {} if body is True else _mapping(ctx, f"analyses.{name}", body, spec)
        checked: dict[str, Any] = {}
        for k, v in body.items():
            key = f"analyses.{name}.{k}"
            if k == "age_floor":
                v = str(v)
            if k == "county":
                checked[k] = _county_list(ctx, key, v)[0]
            elif k == "close":
                if v != "failing" and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                    raise ctx.fail(key, f"must be 'failing' or a whole number ≥ 1, got {v!r}")
                checked[k] = v
            else:
                checked[k] = spec[k](ctx, key, v)
        if name == "new_sites" and "kind" not in checked:
            raise ctx.fail("analyses.new_sites.kind", "required (dining_hall or rural_courtyard …)")
        out[name] = checked
    return out


def _population(ctx: _Ctx, raw: Any) -> dict[str, Any]:
    body = _mapping(ctx, "inputs.population", raw, dict.fromkeys(POPULATION_KEYS))
    sources = [k for k in ("worldpop_dir", "raster", "table") if k in body]
    if len(sources) != 1:
        raise ctx.fail("inputs.population",
                       "give exactly one of worldpop_dir, raster or table")
    src = sources[0]
    out: dict[str, Any] = {src: _input_path(ctx, f"inputs.population.{src}", body[src],
                                            directory=src == "worldpop_dir")}
    if "age_floor" in body:
        out["age_floor"] = int(_choice(("60", "65", "80"))(ctx, "inputs.population.age_floor",
                                                             str(body["age_floor"])))
    if "year" in body:
        out["year"] = _number(2000, 2100, integer=True)(ctx, "inputs.population.year",
                                                        body["year"])
    if "iso" in body:
        out["iso"] = _str(ctx, "inputs.population.iso", body["iso"])
    if "column" in body:
        out["column"] = _str(ctx, "inputs.population.column", body["column"])
    if src == "table" and "column" not in out:
        raise ctx.fail("inputs.population.column", "required with a table (the elder-count column)")
    return out


#: Keys of ``inputs.facilities`` / ``inputs.villages`` written as a mapping.
POINT_INPUT_KEYS = ("path", "coordinates", "sheet")


def _point_input(ctx: _Ctx, key: str, body: Mapping) -> tuple[Path, dict[str, Any]]:
    from elder_coverage.gcj02 import COORDINATE_SYSTEMS

    body = _mapping(ctx, key, body, {k: None for k in POINT_INPUT_KEYS})
    if "path" not in body:
        raise ctx.fail(f"{key}.path", "required (the file to read)")
    path = _input_path(ctx, f"{key}.path", body["path"])
    opts: dict[str, Any] = {"coordinates": _choice(COORDINATE_SYSTEMS)(
        ctx, f"{key}.coordinates", body.get("coordinates", "wgs84"))}
    if "sheet" in body:
        sheet = body["sheet"]
        if isinstance(sheet, bool) or not isinstance(sheet, int | str) or str(sheet).strip() == "":
            raise ctx.fail(f"{key}.sheet", f"must be a sheet name or 0-based position, got "
                                           f"{sheet!r}")
        if path.suffix.lower() not in (".xlsx", ".xlsm"):
            raise ctx.fail(f"{key}.sheet", f"applies to Excel workbooks only, not {path.name}")
        opts["sheet"] = sheet
    return path, opts


def parse_scenario(raw: Any, source: str | Path | None = None) -> Scenario:
    """Validate a scenario given as a dict (as read from YAML).

    Parameters
    ----------
    raw : mapping
        The scenario content.
    source : path-like, optional
        The file it came from; relative input paths are resolved against its folder.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        On the first problem found, naming the file and the key.
    """
    ctx = _Ctx(Path(source).resolve() if source is not None else None)
    top = _mapping(ctx, "", raw, dict.fromkeys(TOP_KEYS))
    if "name" not in top:
        raise ctx.fail("name", "required (a short name for the run)")
    kwargs: dict[str, Any] = {"name": _str(ctx, "name", top["name"]), "source": ctx.source}
    if "description" in top:
        kwargs["description"] = _str(ctx, "description", top["description"])
    if "lang" in top:
        kwargs["lang"] = _choice(LANGS)(ctx, "lang", top["lang"])

    area = _mapping(ctx, "study_area", top.get("study_area"), dict.fromkeys(STUDY_AREA_KEYS))
    if "sample" in area and "boundary" in area:
        raise ctx.fail("study_area", "give either sample or boundary, not both")
    if "boundary" in area:
        kwargs["sample"] = None
        kwargs["boundary"] = _input_path(ctx, "study_area.boundary", area["boundary"])
    else:
        kwargs["sample"] = _choice(SAMPLE_AREAS)(ctx, "study_area.sample",
                                                 area.get("sample", "jilin_city_rural"))
    if "counties" in area:
        kwargs["counties"] = _county_list(ctx, "study_area.counties", area["counties"])

    inputs = _mapping(ctx, "inputs", top.get("inputs"), dict.fromkeys(INPUT_KEYS))
    if "population" in inputs:
        kwargs["population"] = _population(ctx, inputs["population"])
    options: dict[str, dict[str, Any]] = {}
    for key in ("facilities", "townships", "villages"):
        if key in inputs and key != "townships" and isinstance(inputs[key], Mapping):
            kwargs[key], options[key] = _point_input(ctx, f"inputs.{key}", inputs[key])
        elif key in inputs:
            kwargs[key] = _input_path(ctx, f"inputs.{key}", inputs[key])
    kwargs["input_options"] = options
    if "roads" in inputs:
        roads = inputs["roads"]
        kwargs["roads"] = (
            roads if roads in ROAD_CHOICES else _input_path(ctx, "inputs.roads", roads)
        )
    if kwargs.get("sample") is None:
        for key in ("population", "facilities"):
            if key not in kwargs:
                raise ctx.fail(f"inputs.{key}", "required when the study area is a boundary file")
        if kwargs.get("roads", "sample") == "sample":
            raise ctx.fail("inputs.roads",
                           "the sample road graph needs the sample; give an .osm or .graphml "
                           "file, or straight_line")

    if "standards" in top:
        from elder_coverage.standards import StandardsError, load_standards

        std = top["standards"]
        if not isinstance(std, Mapping):
            raise ctx.fail("standards", f"must be a mapping of kind → settings, got {std!r}")
        try:
            load_standards(overrides=std)
        except StandardsError as exc:
            raise ctx.fail("standards", str(exc)) from None
        kwargs["standards"] = dict(std)

    kwargs["analyses"] = _analyses(ctx, top.get("analyses"))
    outputs = _mapping(ctx, "outputs", top.get("outputs"), {k: None for k in OUTPUT_KEYS})
    kwargs["outputs"] = {
        "map": "map.html", "report": "report.html", "geopackage": "cells.gpkg",
        **{k: _output_name(ctx, f"outputs.{k}", v) for k, v in outputs.items()},
    }
    return Scenario(**kwargs)


def scenario_keys() -> dict[str, tuple[str, ...] | None]:
    """Every key the validator accepts, as dotted paths, with its allowed words.

    Returns
    -------
    dict
        ``"analyses.new_sites.measure"`` → ``("elders", "townships", "villages")``; None for
        keys taking a free value (a number, a path, a name). Mappings (``study_area``) are
        listed with their children. Used by the test that README documents each one.
    """
    from elder_coverage.gcj02 import COORDINATE_SYSTEMS

    choices: dict[str, tuple[str, ...]] = {
        "lang": LANGS, "study_area.sample": SAMPLE_AREAS,
        "inputs.population.age_floor": ("60", "65", "80"),
        "analyses.coverage.age_floor": ("60", "65", "80"),
        "analyses.close_merge.kind": ("township_centre",),
        "analyses.close_merge.close": ("failing",),
        "analyses.new_sites.kind": NEW_SITE_KINDS, "analyses.new_sites.measure": MEASURES,
        "analyses.new_sites.candidates": CANDIDATES,
        "inputs.facilities.coordinates": COORDINATE_SYSTEMS,
        "inputs.villages.coordinates": COORDINATE_SYSTEMS,
        "inputs.roads": ROAD_CHOICES,
    }
    keys = [k for k in TOP_KEYS]
    keys += [f"study_area.{k}" for k in STUDY_AREA_KEYS]
    keys += [f"inputs.{k}" for k in INPUT_KEYS]
    keys += [f"inputs.population.{k}" for k in POPULATION_KEYS]
    keys += [f"inputs.{p}.{k}" for p in ("facilities", "villages") for k in POINT_INPUT_KEYS]
    keys += [f"analyses.{a}" for a in _ANALYSES]
    keys += [f"analyses.{a}.{k}" for a, spec in _ANALYSES.items() for k in spec]
    keys += [f"outputs.{k}" for k in OUTPUT_KEYS]
    return {k: choices.get(k) for k in keys}


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file (safely: ``yaml.safe_load``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read scenario file ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{p}: not valid YAML ({exc})") from None
    return parse_scenario(raw, p)

