"""The command line end to end: example scenarios, compare, determinism, bad scenario files."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from elder_coverage.cli import main
from elder_coverage.io.atomic import OUTPUT_MARKER
from elder_coverage.scenario import RESERVED_OUTPUT_NAMES

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
OUTPUTS = ("summary.json", "indicators.csv", "coverage_by_county.csv", "coverage_by_township.csv",
           "facilities.csv", "cells.gpkg", "map.html", "report.html")


def _run(scenario: Path, out: Path, *extra: str) -> None:
    assert main(["run", str(scenario), "--out", str(out), *extra]) == 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sample_path):
    base = tmp_path_factory.mktemp("runs")
    out = {}
    for name in ("baseline", "close_merge_shulan", "dining_halls_townships"):
        out[name] = base / name
        _run(SCENARIOS / f"{name}.yaml", out[name])
    return out


@pytest.mark.parametrize("name", ["baseline", "close_merge_shulan", "dining_halls_townships"])
def test_example_scenarios_write_every_output(runs, name):
    folder = runs[name]
    for f in OUTPUTS:
        assert (folder / f).is_file() and (folder / f).stat().st_size > 0, f
    # The run lists what it wrote (so a later run may replace exactly that), and writes
    # nothing but its tables, summaries and the three named outputs.
    marker = json.loads((folder / OUTPUT_MARKER).read_text(encoding="utf-8"))
    written = {p.name for p in folder.iterdir()} - {OUTPUT_MARKER}
    assert set(marker["files"]) == written
    assert written <= {*RESERVED_OUTPUT_NAMES, "map.html", "report.html", "cells.gpkg"}
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["elders_total"] == 430_318  # census 60+ of the five counties
    for kind, k in summary["kinds"].items():
        assert 0 <= k["covered_elders"] <= summary["elders_total"], kind
        assert k["covered_share"] == pytest.approx(k["covered_elders"] / 430_318, abs=1e-6)
        assert k["covered_elders"] + k["uncovered_elders"] == summary["elders_total"]
    # Capacity-aware access (E2SFCA): places per 1,000 elders, and load on each facility.
    assert all(v > 0 for v in summary["access_places_per_1000"].values())
    fac = pd.read_csv(folder / "facilities.csv")
    assert (fac.loc[fac.status == "open", "elders_per_place"].dropna() >= 0).all()


def test_tables_conserve_population(runs):
    folder = runs["baseline"]
    county = pd.read_csv(folder / "coverage_by_county.csv", dtype={"code": str})
    township = pd.read_csv(folder / "coverage_by_township.csv", dtype={"code": str})
    assert county["elders_60"].sum() == 430_318 == township["elders_60"].sum()
    for kind in ("dining_hall", "township_centre", "rural_courtyard"):
        assert (county[f"{kind}_covered"] + county[f"{kind}_uncovered"]
                == county["elders_60"]).all()


def test_close_merge_run_is_consistent(runs):
    folder = runs["close_merge_shulan"]
    s = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    cm = s["analyses"]["close_merge"]
    merges = pd.read_csv(folder / "merges.csv", dtype=str)
    assert set(merges["from_id"]) == set(cm["closed"])
    fac = pd.read_csv(folder / "facilities.csv", dtype={"id": str})
    assert set(fac.loc[fac.status == "closed", "id"]) == set(cm["closed"])
    # Elder by elder: township-centre coverage after = before - elders losing it.
    assert cm["after"]["covered_elders"] == cm["before"]["covered_elders"] - cm[
        "elders_losing_coverage"]
    assert cm["after"]["covered_elders"] >= 0.9 * cm["before"]["covered_elders"] - 1


def test_dining_hall_run_reaches_its_target(runs):
    s = json.loads((runs["dining_halls_townships"] / "summary.json").read_text(encoding="utf-8"))
    ns = s["analyses"]["new_sites"]
    assert ns["after"]["share"] == pytest.approx(1.0)
    assert ns["n_new"] > 0
    new = pd.read_csv(runs["dining_halls_townships"] / "new_sites.csv")
    assert len(new) == ns["n_new"]


def test_compare_two_runs(runs, capsys):
    a, b = runs["baseline"], runs["close_merge_shulan"]
    assert main(["compare", str(a), str(b), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    s = json.loads((b / "summary.json").read_text(encoding="utf-8"))
    assert result["closed"] == sorted(s["analyses"]["close_merge"]["closed"])
    assert result["opened"] == []
    tc = result["coverage"]["township_centre"]
    assert tc["gained"] == 0
    assert tc["lost"] == s["analyses"]["close_merge"]["elders_losing_coverage"]
    assert main(["compare", str(a), str(b), "--lang", "en"]) == 0
    assert "Sites closed" in capsys.readouterr().out


def test_same_inputs_give_byte_identical_tables(runs, tmp_path):
    again = tmp_path / "again"
    _run(SCENARIOS / "close_merge_shulan.yaml", again)
    for csv in sorted(runs["close_merge_shulan"].glob("*.csv")):
        assert hashlib.sha256(csv.read_bytes()).digest() == hashlib.sha256(
            (again / csv.name).read_bytes()).digest(), csv.name


@pytest.mark.parametrize("command", ["demo", "coverage", "run", "compare", "sample"])
def test_help_everywhere(command):
    exe = Path(sys.executable).with_name("elder-coverage")  # the installed console script
    proc = subprocess.run([str(exe), command, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "usage:" in proc.stdout


BAD = {
    "unknown_key": ("name: x\nanalyses: {coverage: {}}\ncolour: red\n", "colour: unknown key"),
    "wrong_type": ("name: x\nanalyses:\n  close_merge: {close: failing, coverage_target: high}\n",
                   "analyses.close_merge.coverage_target: must be a number"),
    "missing_file": ("name: x\ninputs: {facilities: no_such.csv}\nanalyses: {coverage: {}}\n",
                     "inputs.facilities: file not found"),
    "target_out_of_range": ("name: x\nanalyses:\n  new_sites: {kind: dining_hall, target: 2}\n",
                            "analyses.new_sites.target: must be between 0 and 1"),
    "output_escapes": ("name: x\nanalyses: {coverage: {}}\noutputs: {report: ../../r.html}\n",
                       "outputs.report: must be a file name inside the output folder"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenario_file_gives_clear_message_and_writes_nothing(case, tmp_path, capsys):
    text, expected = BAD[case]
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert expected in err and str(scenario) in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_failed_run_leaves_no_partial_folder(tmp_path, capsys, sample_path):
    """A scenario that validates but fails mid-run (an infeasible request) writes nothing."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: x\nanalyses:\n  close_merge: {county: '220283', close: 99}\n",
                        encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 2
    assert "only" in capsys.readouterr().err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


def test_coverage_command_writes_summary_tables_and_cells(tmp_path, sample_path):
    out = tmp_path / "cov"
    assert main(["coverage", "--out", str(out), "--lang", "en"]) == 0
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["elders_total"] == 430_318 and set(s["kinds"]) >= {"dining_hall", "county_home"}
    assert list(s["analyses"]) == []
    import pyogrio

    cells = pyogrio.read_dataframe(out / "cells.gpkg", layer="cells", read_geometry=False)
    # 86,717 populated cells since the seats moved to their real points (90,516 before).
    assert len(cells) == 86_717 and cells["elders_60"].sum() == 430_318
    for kind in ("dining_hall", "township_centre"):
        assert {f"{kind}_nearest_id", f"{kind}_dist_m", f"{kind}_time_min"} <= set(cells.columns)
    for table in ("coverage_by_township.csv", "coverage_by_county.csv"):
        assert (out / table).is_file()
