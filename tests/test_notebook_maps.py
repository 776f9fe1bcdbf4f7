"""Maps in executed notebooks, opened the way JupyterLab shows them, in headless Chromium.

JupyterLab puts a cell's ``text/html`` output into the page's DOM; a folium map is an
``<iframe srcdoc>`` holding the whole map page. nbmake only checks that cells run, so a map
that showed blank ("L is not defined": placeholder asset URLs) passed. Here notebooks 01, 02
and 04 are executed with nbclient, every map output is placed in an output-area ``<div>`` of a
host page, and Chromium must find Leaflet loaded, markers and polygons drawn and no console
error, all with no network. A small notebook with hostile names checks that a notebook display
runs no name as a template or script.

Executing the three notebooks takes a few minutes (the Jilin sample, road coverage, a MILP).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from test_browser import CHROMEDRIVER, CHROMIUM, browser  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
MAP_NOTEBOOKS = ["01_quickstart.ipynb", "02_close_merge_welfare_centres.ipynb",
                 "04_bring_your_own_data.ipynb"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                       reason="needs Debian chromium and chromedriver"),
]

# JupyterLab's output area: the HTML output is a child of these nested divs.
HOST = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head><body>'
        '<div class="jp-OutputArea"><div class="jp-OutputArea-output" data-mime-type='
        '"text/html">{output}</div></div></body></html>')


def _execute(path: Path, cwd: Path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "coverage")] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = env["PYTHONPATH"]  # the kernel inherits it: import this tree
    try:
        client.execute()
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    return nb


def _map_outputs(nb) -> list[str]:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            html = o.get("data", {}).get("text/html")
            if html and "<iframe" in html and "leaflet" in html.lower():
                out.append(html)
    return out


@pytest.fixture(scope="module")
def executed(tmp_path_factory, sample_path):
    work = tmp_path_factory.mktemp("notebooks")
    outputs = {}
    for name in MAP_NOTEBOOKS:
        shutil.copy(NOTEBOOKS / name, work / name)
        outputs[name] = _map_outputs(_execute(work / name, NOTEBOOKS))
    return work, outputs


def _open_output(driver, work: Path, name: str, html: str) -> None:
    page = work / f"{name}.host.html"
    page.write_text(HOST.format(title=name, output=html), encoding="utf-8")
    driver.get_log("browser")
    driver.get(page.resolve().as_uri())
    frame = driver.find_element("css selector", ".jp-OutputArea-output iframe")
    driver.switch_to.frame(frame)
    deadline = time.time() + 30
    while time.time() < deadline:
        if driver.execute_script("return document.readyState === 'complete' && "
                                 "typeof L !== 'undefined' && "
                                 "Object.values(window).some(v => v instanceof L.Map)"):
            return
        time.sleep(0.2)
    raise AssertionError(f"{name}: Leaflet map did not load in the output iframe")


def _severe(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.parametrize("name", MAP_NOTEBOOKS)
def test_notebook_map_renders_offline(executed, browser, name):  # noqa: F811
    work, outputs = executed
    assert len(outputs[name]) == 1, f"{name}: expected one map output"
    html = outputs[name][0]
    assert "elder-coverage-asset/" not in html  # no placeholder left for the browser to fetch
    _open_output(browser, work, name, html)
    try:
        counts = browser.execute_script("""
            var map = Object.values(window).find(v => v instanceof L.Map);
            var markers = 0, paths = 0;
            map.eachLayer(function (l) {
                if (l instanceof L.Marker && !(l.options.icon &&
                        /ec-place/.test(l.options.icon.options.className || ""))) markers++;
                if (l instanceof L.Path) paths++;
            });
            var size = map.getSize();
            return {markers: markers, paths: paths, w: size.x, h: size.y,
                    svg: document.querySelectorAll('.leaflet-overlay-pane path').length,
                    icons: document.querySelectorAll('.leaflet-marker-icon').length};""")
        assert counts["markers"] > 0 and counts["icons"] > 0, counts
        assert counts["paths"] > 0 and counts["svg"] > 0, counts  # county polygons, roads
        assert counts["w"] > 300 and counts["h"] > 300, counts  # the frame has a real size
        assert _severe(browser) == []
    finally:
        browser.switch_to.default_content()


def test_hostile_names_in_a_notebook_do_not_run(tmp_path, browser):  # noqa: F811
    import nbformat

    canary = tmp_path / "ec_pwned"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"""
import sys
sys.path.insert(0, {str(ROOT / "tests")!r})
from test_maps import small_inputs
from elder_coverage.maps import coverage_map
d = small_inputs()
names = ["{{{{ 'zq' ~ 7*191 }}}}",
         "{{{{ cycler.__init__.__globals__.os.mkdir({str(canary)!r}) }}}}",
         "{{# x", "<img src=x onerror='window.__xss=1'>",
         "</script><script>window.__xss=2</script>", "{{% for i in range(3) %}}x7{{% endfor %}}"]
d["facilities"]["name"] = names
coverage_map(d["counties"], d["townships"], d["cells"], d["facilities"], title=names[0],
             tiles=False, lang="zh")""")]
    path = tmp_path / "hostile.ipynb"
    nbformat.write(nb, path)
    executed_nb = _execute(path, tmp_path)
    html = _map_outputs(executed_nb)[0]
    assert not canary.exists()
    # evaluated it would read "zq1337"; a bare "1337" can occur in random element ids
    assert "zq1337" not in html and "x7x7x7" not in html
    _open_output(browser, tmp_path, "hostile", html)
    try:
        assert browser.execute_script("return document.querySelector('.ec-title-text')"
                                      ".textContent") == "{{ 'zq' ~ 7*191 }}"
        titles = browser.execute_script(
            "return Array.from(document.querySelectorAll('.leaflet-marker-icon'))"
            ".map(e => e.title).filter(t => t)")
        assert "{# x" in titles and "{% for i in range(3) %}x7{% endfor %}" in titles
        assert browser.execute_script("return window.__xss") is None
        assert _severe(browser) == []
    finally:
        browser.switch_to.default_content()
