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
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from elder_coverage._errors import SettingsError
from elder_coverage._validate import check_number
from elder_coverage._validate import show as _show
from elder_coverage.kinds import kind as kind_of
from elder_coverage.kinds import kinds_with_role, new_site_kinds


class ScenarioError(SettingsError):
    """A scenario file that cannot be run; the message names the file and key."""


SAMPLE_AREAS = ("jilin_city_rural", "province")
LANGS = ("zh", "en")
ROAD_CHOICES = ("sample", "straight_line")
#: analyses.new_sites.kind: the kinds ``kinds.yaml`` gives a ``new_site`` entry.
NEW_SITE_KINDS = new_site_kinds()
#: analyses.close_merge.kind: the ``close_merge`` role of ``kinds.yaml`` (township centres).
CLOSE_MERGE_KINDS = kinds_with_role("close_merge")
MEASURES = ("elders", "townships", "villages")
CANDIDATES = ("villages", "seats", "both")
#: analyses.new_sites.model (elder_coverage.new_sites.MODELS); all but set_cover need max_new.
NEW_SITE_MODELS = ("set_cover", "max_coverage", "backup_coverage", "capacitated_max_coverage",
                   "p_center")
OUTPUT_KEYS = ("map", "report", "geopackage")
#: File types of each output name (the writers choose their format from the file itself).
OUTPUT_SUFFIXES = {"map": (".html", ".htm"), "report": (".html", ".htm"),
                   "geopackage": (".gpkg", ".parquet")}
#: The tables (``<name>.csv``) a run may write; output names may not take their place.
RUN_TABLES = ("close_merge_assessment", "coverage_by_county", "coverage_by_township",
              "coverage_study_area", "facilities", "gaps", "indicators", "indicators_final",
              "lost_coverage", "merges", "new_sites", "unreachable", "worst_served_townships")
#: Every file name a run writes besides the three named outputs.
RESERVED_OUTPUT_NAMES = ("summary.json", "run_log.json", "scenario.yaml",
                         *(f"{t}.csv" for t in RUN_TABLES))
# Most file systems limit one name to 255 bytes; Chinese characters take 3 bytes in UTF-8.
_NAME_MAX_BYTES = 255
_NOT_IN_NAMES = set('<>:"|?*') | {chr(c) for c in range(32)} | {"\x7f"}
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".zip", ".fgb", ".kml")
#: Census year and policy target years the elders can be taken from (elder_coverage.demand).
DEMAND_YEARS = (2020, 2025, 2029, 2030)
TOP_KEYS = ("name", "description", "lang", "study_area", "inputs", "demand_year", "standards",
            "analyses", "outputs")
STUDY_AREA_KEYS = ("sample", "counties", "boundary")
INPUT_KEYS = ("population", "facilities", "roads", "townships", "villages", "seats")
POPULATION_KEYS = ("worldpop_dir", "raster", "table", "column", "age_floor", "year", "iso",
                   "invalid", "outside", "layer", "source_crs")


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
    seats: Path | None = None
    read_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    standards: dict[str, Any] = field(default_factory=dict)
    analyses: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    demand_year: int = 2020


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
        raise ctx.fail(key, f"must be a mapping, got {type(value).__name__} {_show(value)}")
    for k in value:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), list(allowed), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            name = f"{key}.{k}" if key else str(k)
            raise ctx.fail(name, f"unknown key (allowed: {', '.join(allowed)}){hint}")
    return dict(value)


def _str(ctx: _Ctx, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ctx.fail(key, f"must be a non-empty string, got {_show(value)}")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[_Ctx, str, Any], str]:
    def check(ctx: _Ctx, key: str, value: Any) -> str:
        if value not in options:
            raise ctx.fail(key, f"must be one of {', '.join(options)}, got {_show(value)}")
        return value

    return check


def _number(lo: float | None = None, hi: float | None = None, integer: bool = False):
    def check(ctx: _Ctx, key: str, value: Any) -> float | int:
        problem = check_number(value, lo=lo, hi=hi, integer=integer)
        if problem:
            raise ctx.fail(key, problem)
        return value

    return check


def _finite_everywhere(ctx: _Ctx, key: str, value: Any) -> None:
    """Refuse NaN/inf anywhere in a nested mapping (standards overrides)."""
    stack, seen = [(key, value)], set()
    while stack:
        k, v = stack.pop()
        if id(v) in seen:  # YAML anchors share objects; visit each once
            continue
        seen.add(id(v))
        if isinstance(v, float) and not math.isfinite(v):
            raise ctx.fail(k, f"must be a finite number, got {_show(v)}")
        if isinstance(v, Mapping):
            stack.extend((f"{k}.{kk}", vv) for kk, vv in v.items())
        elif isinstance(v, list):
            stack.extend((f"{k}[{i}]", vv) for i, vv in enumerate(v))


def _bool(ctx: _Ctx, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ctx.fail(key, f"must be true or false, got {_show(value)}")
    return value


def _input_path(ctx: _Ctx, key: str, value: Any, directory: bool = False) -> Path:
    text = _str(ctx, key, value)
    path = (ctx.base / text).resolve()
    if directory and not path.is_dir():
        raise ctx.fail(key, f"folder not found: {path}")
    if not directory and not path.is_file():
        raise ctx.fail(key, f"file not found: {path}")
    return path


#: Reader options an input file may carry when given as a mapping ``{path: ..., ...}``;
#: polygon layers (boundary, townships) may also name their code and name columns.
FILE_OPTIONS = ("path", "layer", "source_crs", "encoding")
POLYGON_OPTIONS = ("code_column", "name_column")
#: Point lists (facilities, villages, seats) may also be Excel workbooks and be geocoded with
#: Amap/Tencent (GCJ-02) or Baidu (BD-09).
POINT_OPTIONS = ("coordinates", "sheet")
POINT_INPUTS = ("facilities", "villages", "seats")


def _source_crs(ctx: _Ctx, key: str, value: Any) -> str:
    return str(_crs(ctx, key, value))


def _input_file(
    ctx: _Ctx, key: str, value: Any, polygons: bool = False,
) -> tuple[Path, dict[str, Any]]:
    """A file given as a path, or as ``{path, layer?, source_crs?, encoding?}`` (polygon
    layers also ``code_column?``, ``name_column?``; point lists ``coordinates?``,
    ``sheet?``)."""
    if not isinstance(value, Mapping):
        return _input_path(ctx, key, value), {}
    allowed = (*FILE_OPTIONS, *(POLYGON_OPTIONS if polygons else POINT_OPTIONS))
    body = _mapping(ctx, key, value, dict.fromkeys(allowed))
    if "path" not in body:
        raise ctx.fail(f"{key}.path", "required when the input is given as a mapping")
    opts: dict[str, Any] = {}
    if "layer" in body:
        layer = body["layer"]
        opts["layer"] = layer if isinstance(layer, int) and not isinstance(layer, bool) \
            else _str(ctx, f"{key}.layer", layer)
    if "source_crs" in body:
        opts["source_crs"] = _source_crs(ctx, f"{key}.source_crs", body["source_crs"])
    if "encoding" in body:
        import codecs

        enc = _str(ctx, f"{key}.encoding", body["encoding"])
        try:
            codecs.lookup(enc)
        except LookupError:
            raise ctx.fail(f"{key}.encoding", f"unknown encoding {enc!r} (e.g. GBK, "
                                              "GB18030, UTF-8)") from None
        opts["encoding"] = enc
    for k in POLYGON_OPTIONS:
        if k in body:
            opts[k] = _str(ctx, f"{key}.{k}", body[k])
    path = _input_path(ctx, f"{key}.path", body["path"])
    if "coordinates" in body:
        from elder_coverage.gcj02 import COORDINATE_SYSTEMS

        opts["coordinates"] = _choice(COORDINATE_SYSTEMS)(ctx, f"{key}.coordinates",
                                                          body["coordinates"])
    if "sheet" in body:
        sheet = body["sheet"]
        if isinstance(sheet, bool) or not isinstance(sheet, int | str) or str(sheet).strip() == "":
            raise ctx.fail(f"{key}.sheet", f"must be a sheet name or 0-based position, got "
                                           f"{sheet!r}")
        if path.suffix.lower() not in (".xlsx", ".xlsm"):
            raise ctx.fail(f"{key}.sheet", f"applies to Excel workbooks only, not {path.name}")
        opts["sheet"] = sheet
    return path, opts


def _output_name(ctx: _Ctx, key: str, value: Any) -> str:
    text = _str(ctx, key, value)
    inside = f"must be a file name inside the output folder, got {_show(text)}"
    slashed = text.replace("\\", "/")
    pure = PurePosixPath(slashed)
    if pure.is_absolute() or Path(text).is_absolute() or ".." in pure.parts:
        raise ctx.fail(key, inside)
    if not pure.parts or slashed.endswith("/") or pure.name in ("", "."):
        raise ctx.fail(key, f"{inside} (that names a folder, not a file)")
    for part in pure.parts:
        if part != part.strip():
            raise ctx.fail(key, f"names may not start or end with a space: {_show(part)}")
        if part.startswith("."):
            raise ctx.fail(key, f"hidden names (starting with '.') are reserved: {_show(part)}")
        bad = sorted(set(part) & _NOT_IN_NAMES)
        if bad:
            raise ctx.fail(key, f"may not contain {' '.join(map(repr, bad))} (not portable "
                                f"to Windows), got {_show(text)}")
        if len(part.encode("utf-8")) > _NAME_MAX_BYTES:
            raise ctx.fail(key, f"name too long ({len(part)} characters, "
                                f"{len(part.encode('utf-8'))} bytes in UTF-8; at most "
                                f"{_NAME_MAX_BYTES} bytes per name)")
    suffixes = OUTPUT_SUFFIXES[key.rsplit(".", 1)[-1]]
    if pure.suffix.lower() not in suffixes:
        raise ctx.fail(key, f"must end in {' or '.join(suffixes)}, got {_show(text)}")
    reserved = {n.casefold() for n in RESERVED_OUTPUT_NAMES}
    if pure.parts[0].casefold() in reserved:
        raise ctx.fail(key, f"{pure.parts[0]!r} is a file every run writes itself "
                            f"(reserved: {', '.join(RESERVED_OUTPUT_NAMES[:2])}, <table>.csv)")
    return str(pure)


def _distinct_outputs(ctx: _Ctx, outputs: dict[str, str]) -> None:
    """Refuse two outputs on one file, or one inside another's name (case-insensitively)."""
    parts = {k: PurePosixPath(v.casefold()).parts for k, v in outputs.items()}
    keys = list(outputs)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            pa, pb = parts[a], parts[b]
            if pa == pb:
                raise ctx.fail(f"outputs.{b}", f"{outputs[b]!r} is also outputs.{a}: one "
                                               "would overwrite the other")
            short, long_, ks, kl = (pa, pb, a, b) if len(pa) < len(pb) else (pb, pa, b, a)
            if long_[:len(short)] == short:
                raise ctx.fail(f"outputs.{kl}", f"{outputs[kl]!r} would need outputs.{ks} "
                                                f"({outputs[ks]!r}) to be a folder")


def _crs(ctx: _Ctx, key: str, value: Any) -> str | int:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ctx.fail(key, f"must be a CRS such as 'EPSG:4547', got {_show(value)}")
    try:
        CRS.from_user_input(value)
    except CRSError:
        raise ctx.fail(key, f"not a coordinate reference system pyproj knows: {_show(value)} "
                            "(e.g. 'EPSG:4326' for lon/lat, 'EPSG:4547' for CGCS2000 / "
                            "3-degree Gauss-Kruger CM 123E)") from None
    return value


def _check_vector(ctx: _Ctx, key: str, path: Path) -> Path:
    if path.suffix.lower() not in VECTOR_SUFFIXES:
        raise ctx.fail(key, f"{path.name} is not a vector file with geometries; give a "
                            f"GeoPackage, GeoJSON or Shapefile ({', '.join(VECTOR_SUFFIXES)})")
    return path


def _county_list(ctx: _Ctx, key: str, value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for i, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, int | str) or str(item).strip() == "":
            raise ctx.fail(f"{key}[{i}]", f"must be a county code or name, got {_show(item)}")
        out.append(str(item).strip())
    return tuple(out)


# --- sections ---------------------------------------------------------------------------

_ANALYSES = {
    "coverage": {"age_floor": _choice(("60", "65", "80"))},
    "close_merge": {
        "county": None,
        "kind": _choice(CLOSE_MERGE_KINDS),
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
        "model": _choice(NEW_SITE_MODELS),
        "new_capacity": _number(0, None),
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
                codes = _county_list(ctx, key, v)
                if len(codes) != 1:
                    raise ctx.fail(key, f"must be one county code or name, got {_show(v)}")
                checked[k] = codes[0]
            elif k == "close":
                if v != "failing" and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                    raise ctx.fail(key, "must be 'failing' or a whole number ≥ 1, "
                                        f"got {_show(v)}")
                checked[k] = v
            else:
                checked[k] = spec[k](ctx, key, v)
        if name == "new_sites" and "kind" not in checked:
            raise ctx.fail("analyses.new_sites.kind",
                           f"required (one of {', '.join(NEW_SITE_KINDS)})")
        if name == "new_sites" and checked.get("model", "set_cover") not in (
                "set_cover", "max_coverage") and "max_new" not in checked:
            raise ctx.fail("analyses.new_sites.max_new",
                           f"required with model {checked['model']} (the number of new sites)")
        if checked.get("model") == "capacitated_max_coverage" and "new_capacity" not in checked:
            raise ctx.fail("analyses.new_sites.new_capacity",
                           "required with model capacitated_max_coverage (places per new site)")
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
        # Every analysis counts elders aged 60+ (the policy's denominator); a population of
        # 65+ only would leave them nothing to count.
        raise ctx.fail("inputs.population.age_floor",
                       "not supported: the population must count elders aged 60+; to report "
                       "coverage of those aged 65+ or 80+ set analyses.coverage.age_floor")
    if "year" in body:
        out["year"] = _number(2000, 2100, integer=True)(ctx, "inputs.population.year",
                                                        body["year"])
    if "iso" in body:
        out["iso"] = _str(ctx, "inputs.population.iso", body["iso"])
    if "column" in body:
        out["column"] = _str(ctx, "inputs.population.column", body["column"])
    if "invalid" in body:
        out["invalid"] = _choice(("raise", "mask"))(ctx, "inputs.population.invalid",
                                                    body["invalid"])
    if "outside" in body:
        out["outside"] = _choice(("raise", "drop"))(ctx, "inputs.population.outside",
                                                    body["outside"])
    if "layer" in body:
        out["layer"] = _str(ctx, "inputs.population.layer", body["layer"])
    if "source_crs" in body:
        if src != "table":
            raise ctx.fail("inputs.population.source_crs",
                           "only for a table (a raster declares its own CRS)")
        out["source_crs"] = _source_crs(ctx, "inputs.population.source_crs", body["source_crs"])
    if src == "table" and "column" not in out:
        raise ctx.fail("inputs.population.column", "required with a table (the elder-count column)")
    return out


def _new_sites_needs(ctx: _Ctx, kwargs: dict[str, Any]) -> None:
    """Refuse new-site requests the inputs cannot serve, before any data is read."""
    p = kwargs["analyses"].get("new_sites")
    if p is None:
        return
    candidates = p.get("candidates", "both")
    if candidates == "seats" and "seats" not in kind_of(p["kind"]).new_site:
        raise ctx.fail("analyses.new_sites.candidates",
                       f"new {p['kind']} sites are chosen among villages only: use villages "
                       "or both")
    if kwargs.get("sample") is not None:
        return  # the sample has township seats and villages with elders
    has = {"seats": "townships" in kwargs, "villages": "villages" in kwargs}
    measure = p.get("measure", "elders")
    need = {"townships": "townships", "villages": "villages"}.get(measure)
    if need and need not in kwargs:
        raise ctx.fail("analyses.new_sites.measure", f"'{measure}' needs inputs.{need}")
    usable = [c for c in ("seats", "villages") if candidates in (c, "both") and has[c]]
    if not usable:
        raise ctx.fail("analyses.new_sites.candidates",
                       f"{candidates!r} needs inputs.townships (seats) or inputs.villages: "
                       "new sites are chosen among township seats and villages")


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

    read_options: dict[str, dict[str, Any]] = {}
    _study_area(ctx, top, kwargs, read_options)
    _inputs(ctx, top, kwargs, read_options)
    _demand_year(ctx, top, kwargs)
    _standards(ctx, top, kwargs)

    kwargs["analyses"] = _analyses(ctx, top.get("analyses"))
    _new_sites_needs(ctx, kwargs)
    outputs = _mapping(ctx, "outputs", top.get("outputs"), {k: None for k in OUTPUT_KEYS})
    kwargs["outputs"] = {
        "map": "map.html", "report": "report.html", "geopackage": "cells.gpkg",
        **{k: _output_name(ctx, f"outputs.{k}", v) for k, v in outputs.items()},
    }
    _distinct_outputs(ctx, kwargs["outputs"])
    return Scenario(**kwargs)


def _study_area(ctx: _Ctx, top: Mapping[str, Any], kwargs: dict[str, Any],
                read_options: dict[str, dict[str, Any]]) -> None:
    """``study_area``: the sample or a boundary file, and the counties kept."""
    area = _mapping(ctx, "study_area", top.get("study_area"), dict.fromkeys(STUDY_AREA_KEYS))
    if "sample" in area and "boundary" in area:
        raise ctx.fail("study_area", "give either sample or boundary, not both")
    if "boundary" in area:
        kwargs["sample"] = None
        kwargs["boundary"], read_options["boundary"] = _input_file(
            ctx, "study_area.boundary", area["boundary"], polygons=True)
        _check_vector(ctx, "study_area.boundary", kwargs["boundary"])
    else:
        kwargs["sample"] = _choice(SAMPLE_AREAS)(ctx, "study_area.sample",
                                                 area.get("sample", "jilin_city_rural"))
    if "counties" in area:
        kwargs["counties"] = _county_list(ctx, "study_area.counties", area["counties"])


def _inputs(ctx: _Ctx, top: Mapping[str, Any], kwargs: dict[str, Any],
            read_options: dict[str, dict[str, Any]]) -> None:
    """``inputs``: population, facilities, areas, villages, seats and roads."""
    inputs = _mapping(ctx, "inputs", top.get("inputs"), dict.fromkeys(INPUT_KEYS))
    if "population" in inputs:
        kwargs["population"] = _population(ctx, inputs["population"])
    for key in ("facilities", "townships", "villages", "seats"):
        if key in inputs:
            kwargs[key], read_options[key] = _input_file(ctx, f"inputs.{key}", inputs[key],
                                                         polygons=key == "townships")
    # Township polygons need geometries: a CSV here is a mistake (villages and seats may be
    # tables of points).
    if "townships" in kwargs:
        _check_vector(ctx, "inputs.townships", kwargs["townships"])
    if "seats" in kwargs and "townships" not in kwargs:
        raise ctx.fail("inputs.seats", "needs inputs.townships (seats are matched to township "
                                       "polygons by code)")
    kwargs["read_options"] = {k: v for k, v in read_options.items() if v}
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


def _demand_year(ctx: _Ctx, top: Mapping[str, Any], kwargs: dict[str, Any]) -> None:
    if "demand_year" in top:
        year = top["demand_year"]
        if isinstance(year, bool) or year not in DEMAND_YEARS:
            raise ctx.fail("demand_year", "must be one of " + ", ".join(map(str, DEMAND_YEARS))
                           + f" (the census or a policy target year), got {year!r}")
        kwargs["demand_year"] = int(year)


def _standards(ctx: _Ctx, top: Mapping[str, Any], kwargs: dict[str, Any]) -> None:
    """``standards``: overrides merged on the defaults, validated now."""
    if "standards" in top:
        from elder_coverage.standards import StandardsError, load_standards

        std = top["standards"]
        if not isinstance(std, Mapping):
            raise ctx.fail("standards",
                           f"must be a mapping of kind → settings, got {_show(std)}")
        _finite_everywhere(ctx, "standards", std)
        try:
            load_standards(overrides=std)
        except StandardsError as exc:
            raise ctx.fail("standards", str(exc)) from None
        kwargs["standards"] = dict(std)


_MAX_SCENARIO_BYTES = 1_000_000


def _decode(p: Path, data: bytes) -> str:
    try:
        # utf-8-sig: Windows Notepad writes a byte-order mark.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        try:
            data.decode("gb18030")
            guess = "it looks like GBK/GB18030; "
        except UnicodeDecodeError:
            guess = ""
        raise ScenarioError(f"{p}: line {line}: not UTF-8 text ({guess}save the file as "
                            "UTF-8, e.g. in Notepad: Save As → Encoding UTF-8)") from None


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
        "analyses.close_merge.kind": CLOSE_MERGE_KINDS,
        "analyses.close_merge.close": ("failing",),
        "analyses.new_sites.kind": NEW_SITE_KINDS, "analyses.new_sites.measure": MEASURES,
        "analyses.new_sites.candidates": CANDIDATES,
        **{f"inputs.{p}.coordinates": COORDINATE_SYSTEMS for p in POINT_INPUTS},
        "inputs.population.invalid": ("raise", "mask"),
        "inputs.population.outside": ("raise", "drop"),
        "demand_year": tuple(str(y) for y in DEMAND_YEARS),
        "analyses.new_sites.model": NEW_SITE_MODELS,
        "inputs.roads": ROAD_CHOICES,
    }
    keys = [k for k in TOP_KEYS]
    keys += [f"study_area.{k}" for k in STUDY_AREA_KEYS]
    keys += [f"inputs.{k}" for k in INPUT_KEYS]
    keys += [f"inputs.population.{k}" for k in POPULATION_KEYS]
    keys += [f"{p}.{k}" for p in ("study_area.boundary", "inputs.townships")
             for k in (*FILE_OPTIONS, *POLYGON_OPTIONS)]
    keys += [f"inputs.{p}.{k}" for p in POINT_INPUTS for k in (*FILE_OPTIONS, *POINT_OPTIONS)]
    keys += [f"analyses.{a}" for a in _ANALYSES]
    keys += [f"analyses.{a}.{k}" for a, spec in _ANALYSES.items() for k in spec]
    keys += [f"outputs.{k}" for k in OUTPUT_KEYS]
    return {k: choices.get(k) for k in keys}


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file (safely: ``yaml.safe_load``).

    Parameters
    ----------
    path : path-like
        A UTF-8 YAML file (with or without a byte-order mark).

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        When the file cannot be read, is not UTF-8, not YAML, nested too deeply, or fails
        :func:`parse_scenario`; the message names the file.
    """
    p = Path(path)
    try:
        if p.is_dir():
            raise ScenarioError(f"{p}: is a folder; give the scenario's .yaml file")
        if p.stat().st_size > _MAX_SCENARIO_BYTES:
            raise ScenarioError(f"{p}: {p.stat().st_size:,} bytes is too large for a scenario "
                                f"file (at most {_MAX_SCENARIO_BYTES:,})")
        data = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read scenario file ({exc.strerror})") from None
    text = _decode(p, data)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{p}: not valid YAML ({exc})") from None
    except RecursionError:
        raise ScenarioError(f"{p}: nested too deeply to be a scenario") from None
    return parse_scenario(raw, p)

