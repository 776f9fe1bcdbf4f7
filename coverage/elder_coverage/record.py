"""What a run folder records about itself, so that two runs can be compared honestly.

``summary.json`` carries a ``run_record``: the scenario file (path and SHA-256; a copy is
written beside it as ``scenario.yaml``), the service standards actually used, the study area
(sample or boundary file, county codes, CRS) and a fingerprint of every input (SHA-256 of
its bytes; for the embedded sample, the hashes its ``manifest.json`` lists), with the
coordinate system and sheet a facility or village list was read with. ``elder-coverage
compare`` reads it to refuse runs over different study areas and to name every difference
in standards or inputs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

#: Version of the ``run_record`` layout (bumped when keys change meaning).
RECORD_VERSION = 1


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes, or of a folder's files (names and bytes, sorted)."""
    p = Path(path)
    digest = hashlib.sha256()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            digest.update(f.relative_to(p).as_posix().encode("utf-8") + b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def run_record(scenario: Any, study: Any, standards: Any) -> dict[str, Any]:
    """The ``run_record`` of a run: scenario, standards, study area and input fingerprints.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario that was run.
    study : StudyData
        Its loaded inputs (``meta`` holds the sample manifest, when the sample was used).
    standards : Standards
        The service standards in force (defaults with the scenario's overrides).

    Returns
    -------
    dict
        ``version``, ``scenario_file`` ({path, sha256} or None), ``standards`` (per kind
        mode, travel, minutes, radius_m; walking/driving speeds in km/h), ``study_area``
        ({sample or boundary, counties, crs}) and ``inputs`` (name → fingerprint record).
    """
    sc = scenario
    manifest_files = study.meta.get("files", {}) if sc.sample is not None else {}

    def sample_file(name: str) -> dict[str, Any]:
        return {"sample": sc.sample, "file": name, "sha256": manifest_files.get(name)}

    def own(key: str, path: Any) -> dict[str, Any] | None:
        if path is None:
            return None
        rec: dict[str, Any] = {"path": str(path), "sha256": file_sha256(path)}
        if key in ("facilities", "villages"):
            rec.update({"coordinates": "wgs84", **sc.read_options.get(key, {})})
        return rec

    inputs: dict[str, Any] = {}
    if sc.sample is not None:
        area_source: dict[str, Any] = {"sample": sc.sample, **sample_file("counties.gpkg")}
        inputs["population"] = sample_file("elders_60.tif")
        inputs["facilities"] = own("facilities", sc.facilities) or {
            **sample_file("facilities.gpkg"), "coordinates": "wgs84"}
        inputs["townships"] = sample_file("townships.gpkg")
        inputs["villages"] = own("villages", sc.villages) or sample_file("villages.gpkg")
    else:
        area_source = {"boundary": str(sc.boundary), "sha256": file_sha256(sc.boundary)}
        pop = dict(sc.population)
        src = next(k for k in ("worldpop_dir", "raster", "table") if k in pop)
        inputs["population"] = {**{k: str(v) for k, v in pop.items()},
                                "sha256": file_sha256(pop[src])}
        inputs["facilities"] = own("facilities", sc.facilities)
        inputs["townships"] = own("townships", sc.townships)
        inputs["villages"] = own("villages", sc.villages)
    if sc.roads == "straight_line":
        inputs["roads"] = {"straight_line": True}
    elif sc.roads == "sample":
        inputs["roads"] = sample_file("roads.graphml")
    else:
        inputs["roads"] = own("roads", sc.roads)
    source = sc.source
    return {
        "version": RECORD_VERSION,
        "scenario_file": None if source is None else {"path": str(source),
                                                      "sha256": file_sha256(source)},
        "standards": standards.to_dict(),
        "study_area": {**area_source,
                       "counties": sorted(str(c) for c in study.counties["code"]),
                       "crs": study.crs.to_string()},
        "inputs": {k: v for k, v in inputs.items() if v is not None},
    }


def coordinate_notes(record: dict[str, Any]) -> list[str]:
    """Notes for the run's summary on facility or village lists given in GCJ-02 or BD-09."""
    names = {"gcj02": "GCJ-02 (Amap/Tencent 高德/腾讯)", "bd09": "BD-09 (Baidu 百度)"}
    out = []
    for key in ("facilities", "villages"):
        system = (record["inputs"].get(key) or {}).get("coordinates", "wgs84")
        if system != "wgs84":
            out.append(f"{key}: coordinates converted from {names[system]} to WGS84")
    return out
