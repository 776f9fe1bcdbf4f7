"""Hostile names: no string from the data is ever run as a template or as script.

Each name below reaches the map (popups, tooltips, layer names, legend, title), the report and
the command line. A name must come out as the text typed: ``{{ 'zq' ~ 7*191 }}`` never becomes
``zq1337``, a name that would create a folder creates none, ``{#`` does not crash, and the
user's input files are left exactly as they were.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from test_maps import small_inputs
from test_report import inputs as report_inputs
from test_run_own_data import _make_inputs

from elder_coverage.cli import main
from elder_coverage.maps import coverage_map, map_html, save_map
from elder_coverage.report import report_html, write_report

CANARY = "ec_pwned"


def hostile_names(folder: Path) -> dict[str, str]:
    """Names that would do something if rendered as a Jinja2 template or parsed as HTML/JS."""
    target = (folder / CANARY).as_posix()
    return {
        "expression": "{{ 'zq' ~ 7*191 }}",
        "statement": "{% for i in range(3) %}x7{% endfor %}",
        "comment": "{# 评论",
        "unclosed": "{{ 名称",
        "mkdir": "{{ cycler.__init__.__globals__.os.mkdir('" + target + "') }}",
        "mkdir_stmt": "{% set _ = lipsum.__globals__['os'].mkdir('" + target + "') %}",
        "script": "<script>window.__xss=1</script>",
        "quotes": "\"双引号\" and 'single' ` back`",
        "backslash": "C:\\temp\\new \\u0041 \\\\",
        "chinese": "舒兰市·环城街道敬老院（一号）",
        "close_script": "</script><!-- ]]> -->",
        "js_template": "${window.__xss=2}",
    }


EVALUATED = {"expression": "zq1337", "statement": "x7x7x7"}


def _evaluated(page: str, key: str) -> bool:
    return key in EVALUATED and EVALUATED[key] in page


def _json_text(page: str, name: str) -> bool:
    """``name`` is in the page as a JSON string (how the map carries data to Leaflet)."""
    from elder_coverage.templating import js_literal

    return js_literal(name)[1:-1] in page


# --------------------------------------------------------------------------- map (API)


@pytest.mark.parametrize("key", list(hostile_names(Path("/x"))))
def test_map_shows_hostile_name_as_text(key, tmp_path):
    name = hostile_names(tmp_path)[key]
    d = small_inputs()
    d["facilities"]["name"] = [f"{name}#{i}" for i in range(len(d["facilities"]))]
    d["counties"]["name"] = [name]
    d["townships"]["name"] = [name, name + "#2"]
    d["merges"]["from_name"] = [name]
    d["new_sites"]["name"] = [name]
    target = tmp_path / "map.html"
    m = coverage_map(d["counties"], d["townships"], d["cells"], d["facilities"],
                     merges=d["merges"], closed_ids=d["closed_ids"], new_sites=d["new_sites"],
                     title=name, tiles=False, lang="zh")
    save_map(m, target)
    page = target.read_text(encoding="utf-8")
    assert not _evaluated(page, key)
    assert not (tmp_path / CANARY).exists()
    # the title as HTML text in <title>, every other occurrence as JSON strings for Leaflet
    assert f"<title>{html.escape(name)}</title>" in page.replace("&#34;", "&quot;") \
        .replace("&#39;", "&#x27;")
    assert _json_text(page, name)  # map title (set as textContent)
    assert _json_text(page, f"{name}#1")  # a facility's hover title
    # ... and its popup: rows as JSON strings, escaped into HTML by the browser when it opens
    # (tests/test_browser.py opens every popup); this is the HTML it builds.
    escaped = html.escape(f"{name}#1").replace("&quot;", "&#34;").replace("&#x27;", "&#39;")
    popups = [p[2] for layer in m._children.values() for p in getattr(layer, "points", [])]
    assert any(f"<b>{escaped}</b>" in p for p in popups)
    assert "<script>window.__xss" not in page and "</script><!--" not in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.html"]  # no temp file left


def test_notebook_display_of_a_hostile_map_is_inert(tmp_path):
    names = hostile_names(tmp_path)
    d = small_inputs()
    d["facilities"]["name"] = list(names.values())[: len(d["facilities"])]
    m = coverage_map(d["counties"], None, d["cells"], d["facilities"], title=names["mkdir"],
                     tiles=False, lang="en")
    frame = m._repr_html_()
    assert frame.startswith('<div class="elder-coverage-map"') and "<iframe srcdoc=\"" in frame
    page = html.unescape(re.search(r'srcdoc="([^"]*)"', frame).group(1))
    assert page == map_html(m)  # the frame holds the offline page, Leaflet inlined
    assert "elder-coverage-asset/" not in page and "L.map(" in page
    assert "zq1337" not in page and not (tmp_path / CANARY).exists()


# --------------------------------------------------------------------------- report (API)


@pytest.mark.parametrize("key", ["expression", "statement", "comment", "mkdir", "mkdir_stmt",
                                 "script", "close_script"])
def test_report_shows_hostile_name_as_text(key, tmp_path):
    name = hostile_names(tmp_path)[key]
    d = report_inputs()
    d["summary"] = dict(d["summary"], scenario=name, description=name, notes=[name])
    d["counties_table"]["name"] = [name, "永吉县"]
    d["merges"]["from_name"] = [name]
    target = tmp_path / "report.html"
    write_report(target, **d, lang="zh", title=name, charts=False)
    page = target.read_text(encoding="utf-8")
    assert not _evaluated(page, key) and not (tmp_path / CANARY).exists()
    escaped = str(html.escape(name)).replace("&quot;", "&#34;").replace("&#x27;", "&#39;")
    assert f"<h1>{escaped}</h1>" in page and f"<title>{escaped}</title>" in page
    assert f'<td class="txt">{escaped}</td>' in page  # county table
    assert f"<li>{escaped}</li>" in page  # notes
    assert "<script" not in page.lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_report_html_matches_written_file(tmp_path):
    name = hostile_names(tmp_path)["expression"]
    d = report_inputs()
    d["summary"] = dict(d["summary"], scenario=name)
    page = report_html(**d, lang="en", charts=False)
    path = write_report(tmp_path / "r.html", **d, lang="en", charts=False)
    assert path.read_text(encoding="utf-8") == page and "zq1337" not in page


# --------------------------------------------------------------------------- command line


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _hostile_inputs(folder: Path) -> dict[str, str]:
    """Own-data inputs (see test_run_own_data) whose names are all hostile."""
    _make_inputs(folder)
    names = hostile_names(folder)
    fac = (folder / "facilities.csv").read_text(encoding="utf-8").splitlines()
    rows = [fac[0]]
    for line, nm in zip(fac[1:], [names["expression"], names["mkdir"], names["comment"]],
                        strict=True):
        cells = line.split(",")
        cells[1] = '"' + nm.replace('"', '""') + '"'
        rows.append(",".join(cells))
    (folder / "facilities.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    county = gpd.read_file(folder / "county.geojson")
    county["name"] = [names["statement"]]
    county.to_file(folder / "county.geojson", driver="GeoJSON")
    scen = (folder / "scenario.yaml").read_text(encoding="utf-8")
    scen = scen.replace("name: own-data\n", "name: " + json.dumps(names["mkdir_stmt"]) + "\n"
                        + "description: " + json.dumps(names["expression"] + " 描述") + "\n")
    (folder / "scenario.yaml").write_text(scen, encoding="utf-8")
    return names


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile_cli")
    names = _hostile_inputs(folder)
    before = _digest(folder)
    out = folder / "out"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["run", str(folder / "scenario.yaml"), "--out", str(out), "--lang", "zh"])
    return {"folder": folder, "names": names, "before": before, "out": out, "code": code,
            "stdout": buf.getvalue()}


def test_cli_run_with_hostile_names_succeeds_and_changes_no_input(cli_run):
    assert cli_run["code"] == 0
    folder = cli_run["folder"]
    after = {k: v for k, v in _digest(folder).items() if not k.startswith("out/")}
    assert after == cli_run["before"]  # nothing of the user's was changed
    assert not (folder / CANARY).exists()
    # the console names the scenario as typed
    assert cli_run["names"]["mkdir_stmt"] in cli_run["stdout"]
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith((".", "out."))]
    assert leftovers == []


def test_cli_map_and_report_show_names_as_text(cli_run):
    out, names = cli_run["out"], cli_run["names"]
    page = (out / "map.html").read_text(encoding="utf-8")
    report = (out / "report.html").read_text(encoding="utf-8")
    for text in (page, report):
        assert "zq1337" not in text and "x7x7x7" not in text
    assert _json_text(page, names["expression"] + " 描述")  # the map title is the description
    assert _json_text(page, names["comment"])
    assert _json_text(page, names["mkdir"])
    assert html.escape(names["statement"], quote=False) in report  # county name, as text
    fac = pd.read_csv(out / "facilities.csv")
    assert sorted(fac["name"]) == sorted([names["expression"], names["mkdir"], names["comment"]])


def test_cli_error_shows_hostile_value_verbatim_and_writes_nothing(tmp_path, capsys):
    _make_inputs(tmp_path)
    names = hostile_names(tmp_path)
    fac = tmp_path / "facilities.csv"
    lines = fac.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("助老餐厅", names["expression"])
    fac.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = _digest(tmp_path)
    code = main(["run", str(tmp_path / "scenario.yaml"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"unknown kind {names['expression']!r}" in err and "zq1337" not in err
    assert _digest(tmp_path) == before  # inputs untouched, no output folder, no temp folder
    assert not (tmp_path / "out").exists() and not (tmp_path / CANARY).exists()
