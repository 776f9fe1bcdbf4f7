"""Road graphs with elderly walking and winter driving times, in minutes.

Graphs are osmnx ``MultiDiGraph``s projected to a metric CRS, from an OpenStreetMap XML
extract (offline), a saved GraphML file, or a download. Every edge gets

* ``walk_min`` — minutes on foot at an older person's pace (``inf`` where walking is not
  allowed: motorways, trunk roads, ``foot=no``);
* ``drive_min`` — minutes by car at the road-class or posted speed (``inf`` on footways,
  paths, steps and other ways closed to cars);

both multiplied by a seasonal slow-down factor (:data:`SEASON_FACTORS`). ``inf`` rather than
a missing attribute, because networkx treats a missing weight as 1.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from pyproj import CRS

from elder_coverage.io._common import PathLike, add_note, check_file
from elder_coverage.io.atomic import write_graphml
from elder_coverage.io.crs import SOURCE_CRS_ATTR, choose_metric_crs, crs_label, resolve_crs
from elder_coverage.io.errors import InputError
from elder_coverage.schema import EDGE_DRIVE_MINUTES, EDGE_WALK_MINUTES

#: Walking speed of older pedestrians (km/h). Comfortable gait speed of adults 65+ is about
#: 0.8–1.0 m/s and falls with age (Studenski et al., JAMA 2011; Bohannon 1997); 0.8 m/s is the
#: usual frailty threshold. 3.0 km/h = 0.83 m/s keeps the 75+ and the frail in view, and is
#: slower than the 4–5 km/h often assumed for "15-minute life circle" planning of all ages.
ELDER_WALK_KPH = 3.0

#: Car speeds (km/h) by OSM ``highway`` class, used where an edge has no ``maxspeed``. Chosen
#: from China's design speeds: expressways 100–120, class-I/II highways 60–100, county roads
#: (class III) 30–40, village roads (class IV) 20–30; urban arterials 60, collectors 40–50,
#: local streets 30 (CJJ 37). Links and tracks are slower still.
DRIVE_SPEEDS_KPH: dict[str, float] = {
    "motorway": 100.0,
    "motorway_link": 50.0,
    "trunk": 80.0,
    "trunk_link": 40.0,
    "primary": 60.0,
    "primary_link": 30.0,
    "secondary": 50.0,
    "secondary_link": 25.0,
    "tertiary": 40.0,
    "tertiary_link": 20.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "road": 30.0,
    "busway": 40.0,
    "service": 15.0,
    "track": 15.0,
    "living_street": 10.0,
}
#: Speed (km/h) for drivable classes missing from the table and without ``maxspeed``.
DRIVE_FALLBACK_KPH = 30.0

#: Time multipliers (walk, drive) by season. Jilin has ~5 months of snow and ice (Nov–Mar).
#: Pedestrians on snow and ice shorten their stride and slow by roughly 20–40 %, older ones
#: most: 1.3. Free-flow car speeds drop ~5–15 % in light snow and up to ~40 % in heavy snow
#: (FHWA, Empirical Studies on Traffic Flow in Inclement Weather, 2006): 1.25 for compacted
#: snow on rural roads. Winter is the default because it is when access is worst.
SEASON_FACTORS: dict[str, tuple[float, float]] = {
    "summer": (1.0, 1.0),
    "winter": (1.3, 1.25),
}

#: Classes where pedestrians are barred (Chinese expressways and grade-separated trunks).
NOT_WALKABLE: frozenset[str] = frozenset({"motorway", "motorway_link", "trunk", "trunk_link"})
#: Classes closed to cars.
NOT_DRIVABLE: frozenset[str] = frozenset({
    "footway", "path", "steps", "pedestrian", "cycleway", "bridleway", "corridor",
    "elevator", "escalator", "via_ferrata",
})
#: ``highway`` values that are not usable roads at all; such ways are dropped.
NOT_ROADS: frozenset[str] = frozenset({
    "proposed", "construction", "abandoned", "planned", "razed", "disused", "raceway",
    "bus_guideway", "platform", "bus_stop", "rest_area", "services", "no",
})
_EXTRA_WAY_TAGS = ("foot", "motor_vehicle", "motorcar", "vehicle")
#: Values of foot/motor_vehicle/access that close a way to the public. ``private`` means
#: "only with the owner's permission"; osmnx leaves such ways out of its walk and drive
#: networks, and a compound's gate is no route for a care trip.
_NO = {"no", "private"}

#: Plausible posted speeds (km/h). China's highest limit is 120; a ``maxspeed`` outside this
#: range is a tagging error (``5000``, ``0``) and would give zero-minute or endless edges.
MAXSPEED_RANGE_KPH = (5.0, 150.0)


def _osmnx() -> Any:
    # Imported on first use: osmnx pulls in scikit-learn and takes seconds, which every
    # `import elder_coverage.io` would otherwise pay even to read a CSV.
    import osmnx

    return osmnx


@contextmanager
def _way_tags() -> Iterator[None]:
    ox = _osmnx()
    # osmnx keeps only settings.useful_tags_way; foot/motor_vehicle decide who may pass.
    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = list(dict.fromkeys([*saved, *_EXTRA_WAY_TAGS]))
    try:
        yield
    finally:
        ox.settings.useful_tags_way = saved


def _classes(data: dict[str, Any]) -> list[str]:
    hw = data.get("highway")
    if hw is None:
        return []
    return [str(h) for h in (hw if isinstance(hw, list) else [hw])]


def _tag(data: dict[str, Any], key: str) -> set[str]:
    v = data.get(key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return set()
    return {str(x).strip().lower() for x in (v if isinstance(v, list) else [v])}


def is_walkable(data: dict[str, Any]) -> bool:
    """Whether an edge's tags allow walking (every merged segment must allow it)."""
    classes = _classes(data)
    foot = _tag(data, "foot")
    if foot & _NO:
        return False
    if foot & {"yes", "designated", "permissive"}:
        return True
    if _tag(data, "access") & _NO:
        return False
    return bool(classes) and not any(c in NOT_WALKABLE for c in classes)


def is_drivable(data: dict[str, Any], *, classes: Collection[str] | None = None) -> bool:
    """Whether an edge's tags allow cars (every merged segment must allow it).

    ``classes`` are the ``highway`` values cars may use (default: the keys of
    :data:`DRIVE_SPEEDS_KPH`); any other value, including ones OSM does not define such as
    ``trail``, is taken to be a path, as osmnx's drive network does.
    """
    drivable = DRIVE_SPEEDS_KPH.keys() if classes is None else classes
    hw = _classes(data)
    if (_tag(data, "motor_vehicle") | _tag(data, "motorcar") | _tag(data, "vehicle")) & _NO:
        return False
    if _tag(data, "access") & _NO and not (
            _tag(data, "motor_vehicle") | _tag(data, "motorcar")) & {"yes", "designated"}:
        return False
    return bool(hw) and all(c in drivable for c in hw)


def _clean_maxspeeds(G: nx.MultiDiGraph) -> None:
    """Remove ``maxspeed`` values outside :data:`MAXSPEED_RANGE_KPH`, with a note.

    The edges then get their class speed, as edges without ``maxspeed`` do.
    """
    from osmnx.routing import _clean_maxspeed

    lo, hi = MAXSPEED_RANGE_KPH
    absurd: dict[str, int] = {}
    for _, _, data in G.edges(data=True):
        raw = data.get("maxspeed")
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            continue
        values = [_clean_maxspeed(str(v)) for v in (raw if isinstance(raw, list) else [raw])]
        if any(v is not None and not lo <= v <= hi for v in values):
            key = str(raw)
            absurd[key] = absurd.get(key, 0) + 1
            del data["maxspeed"]
    if absurd:
        shown = ", ".join(f"{k} ({n} edge{'s' if n > 1 else ''})" for k, n in absurd.items())
        add_note(G, f"maxspeed outside {lo:g}–{hi:g} km/h ignored (road-class speed used "
                    f"instead): {shown}")


def _note_tags(G: nx.MultiDiGraph, drivable: Collection[str]) -> None:
    """Notes on tags read by convention: unknown highway values and private access."""
    known = set(drivable) | NOT_DRIVABLE | NOT_WALKABLE
    unknown: dict[str, int] = {}
    private = 0
    for _, _, data in G.edges(data=True):
        if data.get("walk_only"):
            continue
        for c in _classes(data):
            if c not in known:
                unknown[c] = unknown.get(c, 0) + 1
        if "private" in _tag(data, "access"):
            private += 1
    if unknown:
        shown = ", ".join(f"{k} ({n})" for k, n in sorted(unknown.items()))
        add_note(G, f"highway values that are not OSM road classes taken as paths (walking "
                    f"only, no cars), edges: {shown}")
    if private:
        add_note(G, f"{private} edge(s) tagged access=private are closed to walking and "
                    "driving (OSM/osmnx convention)")


def add_travel_times(
    G: nx.MultiDiGraph,
    *,
    season: str = "winter",
    walk_kph: float = ELDER_WALK_KPH,
    drive_speeds: dict[str, float] | None = None,
    walk_factor: float | None = None,
    drive_factor: float | None = None,
) -> nx.MultiDiGraph:
    """Set ``walk_min`` and ``drive_min`` (minutes) and ``speed_kph`` on every edge, in place.

    Parameters
    ----------
    G : networkx.MultiDiGraph
        osmnx graph with edge ``length`` (metres) and ``highway``.
    season : {"winter", "summer"}, default "winter"
        Picks the multipliers in :data:`SEASON_FACTORS`.
    walk_kph : float, default 3.0
        Elderly walking speed (km/h); see :data:`ELDER_WALK_KPH`.
    drive_speeds : dict, optional
        ``{highway class: km/h}`` replacing :data:`DRIVE_SPEEDS_KPH`; its keys are the classes
        cars may use. An edge's ``maxspeed`` wins over the table, as in
        :func:`osmnx.add_edge_speeds`, unless it lies outside :data:`MAXSPEED_RANGE_KPH`
        (then it is ignored, with a note in ``graph["notes"]``).
    walk_factor, drive_factor : float, optional
        Override the season's multipliers (≥ 1 slows travel).

    Returns
    -------
    networkx.MultiDiGraph
        ``G``, with ``graph["season"]``, ``graph["walk_kph"]``, ``graph["walk_factor"]`` and
        ``graph["drive_factor"]`` recording the assumptions.
    """
    ox = _osmnx()
    if season not in SEASON_FACTORS:
        raise ValueError(f"season must be one of {sorted(SEASON_FACTORS)}, not {season!r}")
    wf, df = SEASON_FACTORS[season]
    wf = wf if walk_factor is None else float(walk_factor)
    df = df if drive_factor is None else float(drive_factor)
    if not (walk_kph > 0 and wf > 0 and df > 0):
        raise ValueError("walk_kph and the factors must be positive")
    if G.number_of_edges() == 0:
        raise ValueError("graph has no edges")
    speeds = dict(DRIVE_SPEEDS_KPH if drive_speeds is None else drive_speeds)
    _clean_maxspeeds(G)
    _note_tags(G, speeds)
    ox.add_edge_speeds(G, hwy_speeds=speeds, fallback=DRIVE_FALLBACK_KPH)
    metres_per_min_walk = walk_kph * 1000.0 / 60.0
    for _, _, data in G.edges(data=True):
        length = float(data["length"])
        data[EDGE_WALK_MINUTES] = (length / metres_per_min_walk * wf
                                   if is_walkable(data) else math.inf)
        speed = float(data.get("speed_kph") or 0.0)
        drive_ok = (is_drivable(data, classes=speeds) and not data.get("walk_only", False)
                    and speed > 0)
        data[EDGE_DRIVE_MINUTES] = (length / (speed * 1000.0 / 60.0) * df
                                    if drive_ok else math.inf)
    G.graph.update(season=season, walk_kph=float(walk_kph), walk_factor=wf, drive_factor=df)
    return G


def add_walk_reverse_edges(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Give every one-way walkable edge a walk-only twin in the other direction, in place.

    One-way signs bind cars, not pedestrians, but osmnx builds a one-way street as a single
    directed edge. The twin carries ``walk_only=True`` and gets ``drive_min = inf``.
    Edges that already have a reverse edge are left alone, so this is idempotent.
    """
    add = []
    for u, v, data in G.edges(data=True):
        if u == v or G.has_edge(v, u) or not is_walkable(data):
            continue
        twin = dict(data)
        twin["reversed"] = not bool(data.get("reversed", False))
        twin["walk_only"] = True
        if isinstance(data.get("geometry"), shapely.LineString):
            twin["geometry"] = shapely.reverse(data["geometry"])
        add.append((v, u, twin))
    for v, u, twin in add:
        G.add_edge(v, u, **twin)
    return G


def _drop_non_roads(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    # graph_from_xml turns every way into edges, buildings and rivers included.
    drop = [
        (u, v, k) for u, v, k, d in G.edges(keys=True, data=True)
        if not _classes(d) or "yes" in _tag(d, "area")
        or any(c in NOT_ROADS for c in _classes(d))
    ]
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n in list(G.nodes) if G.degree(n) == 0])
    return G


def _project(G: nx.MultiDiGraph, crs: Any, path: PathLike | None) -> nx.MultiDiGraph:
    ox = _osmnx()
    if G.graph.get("crs") is None:
        raise InputError("graph has no CRS (graph attribute 'crs')", path=path)
    src = CRS.from_user_input(G.graph["crs"])
    G.graph.setdefault(SOURCE_CRS_ATTR, crs_label(src))
    if crs is None:
        if src.is_projected and not ({a.unit_name for a in src.axis_info}
                                     - {"metre", "meter"}):
            return G
        xs = np.fromiter((d["x"] for _, d in G.nodes(data=True)), float)
        ys = np.fromiter((d["y"] for _, d in G.nodes(data=True)), float)
        target = choose_metric_crs(gpd.GeoSeries(gpd.points_from_xy(xs, ys), crs=src))
    else:
        target = resolve_crs(crs)
    if src.equals(target):
        return G
    Gp = ox.project_graph(G, to_crs=target)
    Gp.graph[SOURCE_CRS_ATTR] = G.graph[SOURCE_CRS_ATTR]
    return Gp


def _finish(
    G: nx.MultiDiGraph, *, crs: Any, simplify: bool, retain_all: bool, path: PathLike | None,
    times: dict[str, Any],
) -> nx.MultiDiGraph:
    ox = _osmnx()
    G = _drop_non_roads(G)
    if G.number_of_edges() == 0:
        after = "".join(f"; {n}" for n in G.graph.get("notes", []))
        raise InputError(f"no roads (no ways with a usable highway tag){after}", path=path)
    if simplify:
        # Keep nodes where class or access changes, so one edge never mixes a footway with
        # a street and walkability/drivability stay exact per edge.
        G = ox.simplify_graph(G, edge_attrs_differ=["highway", *_EXTRA_WAY_TAGS, "oneway"])
    if not retain_all:
        G = ox.truncate.largest_component(G, strongly=False)
    G = _project(G, crs, path)
    add_walk_reverse_edges(G)
    add_travel_times(G, **times)
    if path is not None:
        G.graph["source_path"] = os.fspath(path)
    return G


def graph_from_osm_xml(
    path: PathLike,
    *,
    crs: Any = None,
    season: str = "winter",
    walk_kph: float = ELDER_WALK_KPH,
    drive_speeds: dict[str, float] | None = None,
    simplify: bool = True,
    retain_all: bool = True,
) -> nx.MultiDiGraph:
    """Build a road graph from an OpenStreetMap XML file (``.osm``), offline.

    Parameters
    ----------
    path : str or PathLike
        OSM XML, e.g. an extract cut from a Geofabrik China file with osmium.
    crs : optional
        Metric CRS; default the UTM zone of the nodes' centre.
    season, walk_kph, drive_speeds
        As in :func:`add_travel_times`.
    simplify : bool, default True
        Merge chains of degree-2 nodes into single edges (:func:`osmnx.simplify_graph`).
    retain_all : bool, default True
        Keep disconnected parts. Villages whose roads are not joined to the rest in the
        extract would otherwise vanish together with their elders' access.

    Returns
    -------
    networkx.MultiDiGraph
        Projected; edges carry ``length`` (m), ``speed_kph``, ``walk_min``, ``drive_min``.

    Raises
    ------
    InputError
        Missing, empty or unparsable file, or no roads in it.

    Notes
    -----
    Ways referencing nodes absent from the file (extracts clipped by a bounding box) are
    cut at those nodes; ``graph["notes"]`` says how many.
    """
    from osmnx import _osm_xml
    from osmnx.graph import _create_graph

    p = check_file(path)
    try:
        data = _osm_xml._overpass_json_from_xml(p, "utf-8")
    except Exception as exc:  # SAX errors, bad bz2 streams, …
        kind = type(exc).__name__
        raise InputError(f"cannot be read as OpenStreetMap XML ({kind}: {exc})", path=p) from exc
    cut = _cut_missing_nodes(data)
    try:
        with _way_tags():
            G = _create_graph([data], bidirectional=False)
    except Exception as exc:  # osmnx raises on files with no nodes or ways
        kind = type(exc).__name__
        raise InputError(f"cannot be read as OpenStreetMap XML ({kind}: {exc})", path=p) from exc
    if cut:
        add_note(G, f"{p.name}: {cut['ways']} way(s) reference {cut['nodes']} node(s) missing "
                    "from the file (an extract clipped by a bounding box); they were cut at the "
                    f"missing nodes ({cut['dropped']} left with fewer than 2 nodes dropped)")
    return _finish(G, crs=crs, simplify=simplify, retain_all=retain_all, path=p,
                   times={"season": season, "walk_kph": walk_kph, "drive_speeds": drive_speeds})


def _cut_missing_nodes(data: dict[str, Any]) -> dict[str, int]:
    """Split, in place, every way of an Overpass-style JSON at node references the file lacks.

    Extracts cut by a bounding box keep whole ways but only the nodes inside the box. A way
    is split into its runs of present nodes, rather than having the gaps bridged, so no
    straight chord is drawn across the part that lies outside. Extra pieces get negative
    ids (OSM's convention for objects not in the database). Returns counts of ways cut,
    nodes missing and pieces dropped, or an empty dict when nothing was missing.
    """
    elements = data.get("elements", [])
    present = {e["id"] for e in elements if e.get("type") == "node"}
    out: list[dict[str, Any]] = []
    ways = dropped = 0
    missing: set[int] = set()
    next_id = -1
    for e in elements:
        if e.get("type") != "way" or all(n in present for n in e.get("nodes", [])):
            out.append(e)
            continue
        ways += 1
        runs: list[list[int]] = [[]]
        for n in e["nodes"]:
            if n in present:
                runs[-1].append(n)
            else:
                missing.add(n)
                if runs[-1]:
                    runs.append([])
        runs = [r for r in runs if r]
        dropped += sum(len(r) < 2 for r in runs)
        pieces = [r for r in runs if len(r) >= 2]
        for i, run in enumerate(pieces):
            piece = {**e, "nodes": run}
            if i > 0:
                piece["id"] = next_id
                next_id -= 1
            out.append(piece)
    if not ways:
        return {}
    data["elements"] = out
    return {"ways": ways, "nodes": len(missing), "dropped": dropped}


def graph_from_polygon(
    polygon: Any,
    *,
    crs: Any = None,
    season: str = "winter",
    walk_kph: float = ELDER_WALK_KPH,
    drive_speeds: dict[str, float] | None = None,
    retain_all: bool = True,
) -> nx.MultiDiGraph:
    """Download the road graph inside a polygon with osmnx (needs internet access).

    Parameters
    ----------
    polygon : GeoDataFrame, GeoSeries or shapely geometry
        Study area; a bare shapely geometry is taken to be in lon/lat degrees.
    crs, season, walk_kph, drive_speeds, retain_all
        As in :func:`graph_from_osm_xml`.
    """
    ox = _osmnx()
    if isinstance(polygon, gpd.GeoDataFrame | gpd.GeoSeries):
        area = polygon.geometry.to_crs(4326).union_all()
    else:
        area = polygon
    with _way_tags():
        G = ox.graph_from_polygon(area, network_type="all", simplify=False, retain_all=True,
                                  truncate_by_edge=True)
    return _finish(G, crs=crs, simplify=True, retain_all=retain_all, path=None,
                   times={"season": season, "walk_kph": walk_kph, "drive_speeds": drive_speeds})


def load_graph(
    path: PathLike,
    *,
    crs: Any = None,
    season: str | None = None,
    walk_kph: float = ELDER_WALK_KPH,
    drive_speeds: dict[str, float] | None = None,
) -> nx.MultiDiGraph:
    """Load a GraphML road graph saved by :func:`save_graph` or :func:`osmnx.save_graphml`.

    Parameters
    ----------
    path : str or PathLike
        GraphML file.
    crs : optional
        Metric CRS; default keep a metric graph as saved, else the UTM zone of its centre.
    season : {"winter", "summer"}, optional
        Recompute travel times for this season. ``None`` keeps the saved ``walk_min`` /
        ``drive_min`` when present (computing winter times otherwise).
    walk_kph, drive_speeds
        As in :func:`add_travel_times`, used when times are (re)computed.

    Raises
    ------
    InputError
        Missing, empty or unparsable file, no CRS, no edges.
    """
    ox = _osmnx()
    p = check_file(path)
    edge_dtypes = {EDGE_WALK_MINUTES: float, EDGE_DRIVE_MINUTES: float, "speed_kph": float,
                   "walk_only": _bool_text}
    graph_dtypes = {"walk_kph": float, "walk_factor": float, "drive_factor": float,
                    "notes": _text_list}
    try:
        G = ox.load_graphml(p, edge_dtypes=edge_dtypes, graph_dtypes=graph_dtypes)
    except Exception as exc:
        raise InputError(f"cannot be read as GraphML ({type(exc).__name__}: {exc})",
                         path=p) from exc
    if G.number_of_edges() == 0:
        raise InputError("graph has no edges", path=p)
    if not G.graph.get("crs"):
        raise InputError("graph has no CRS (graph attribute 'crs'); was it saved by osmnx?",
                         path=p)
    had_times = all(EDGE_WALK_MINUTES in d and EDGE_DRIVE_MINUTES in d
                    for _, _, d in G.edges(data=True))
    # Projection keeps edge lengths (metres, computed on the sphere), so times stay valid.
    G = _project(G, crs, p)
    if season is not None or not had_times:
        add_walk_reverse_edges(G)
        add_travel_times(G, season=season or G.graph.get("season") or "winter",
                         walk_kph=walk_kph, drive_speeds=drive_speeds)
    G.graph["source_path"] = os.fspath(p)
    return G


def _text_list(v: str) -> list[str]:
    # GraphML stores the notes list as its repr; read it back as a list, never as code.
    import ast

    try:
        out = ast.literal_eval(v)
    except (ValueError, SyntaxError):
        return [str(v)]
    return [str(x) for x in out] if isinstance(out, list | tuple) else [str(out)]


def _bool_text(v: str) -> bool:
    # GraphML stores every attribute as text; bool("False") would be True.
    return str(v).strip().lower() == "true"


def save_graph(G: nx.MultiDiGraph, path: PathLike) -> Path:
    """Write ``G`` as GraphML atomically (``inf`` times are kept and read back as ``inf``)."""
    if not G.graph.get("crs"):
        raise ValueError("graph has no CRS (graph attribute 'crs')")
    return write_graphml(G, path)


def read_roads(path: PathLike, *, crs: Any = None, season: str = "winter") -> nx.MultiDiGraph:
    """Road graph from an OpenStreetMap XML extract (``.osm``/``.xml``) or a GraphML file.

    Parameters
    ----------
    path : str or PathLike
        ``.osm`` / ``.xml`` → :func:`graph_from_osm_xml`; ``.graphml`` → :func:`load_graph`.
    crs : optional
        Metric CRS of the result (pass the study's).
    season : {"winter", "summer"}
        Travel-time season for OSM input (a GraphML keeps the times it was saved with).

    Raises
    ------
    InputError
        Any other file type, naming the file.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".osm", ".xml"):
        return graph_from_osm_xml(p, crs=crs, season=season)
    if suffix == ".graphml":
        return load_graph(p, crs=crs)
    raise InputError(f"unknown road file type {suffix!r}: give an OpenStreetMap .osm extract "
                     "or a .graphml saved by elder-coverage/osmnx", path=p)
