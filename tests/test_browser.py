"""The map and the report in a real headless browser (Debian chromium + chromedriver).

Skipped, with the reason, when chromium or chromedriver is not installed
(``apt-get install chromium chromium-driver``; ``.ci/run`` installs them).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd
import pytest
from test_maps import EVIL, EVIL_IMG, EVIL_TEMPLATE, build, overlays, points_of, small_inputs

from elder_coverage.maps import coverage_map, save_map

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else \
    shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless browser test needs Debian chromium and chromedriver "
           "(apt-get install chromium chromium-driver)")

# The page's Leaflet map object (folium names it map_<random hex>).
MAP_EXPR = "Object.values(window).find(v => v instanceof L.Map)"
FIND_MAP = f"var map = {MAP_EXPR};"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ec-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--disable-sync", "--window-size=1280,900",
                f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open(driver, path: Path) -> None:
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(path.resolve().as_uri())
    deadline = time.time() + 20
    while time.time() < deadline:
        if driver.execute_script(f"return document.readyState === 'complete' && "
                                 f"typeof L !== 'undefined' && {MAP_EXPR} !== undefined"):
            return
        time.sleep(0.1)
    raise AssertionError(f"map in {path} did not load")


def _severe(driver) -> list[str]:
    # Tile requests fail without network; they are not errors of the page itself.
    return [e["message"] for e in driver.get_log("browser")
            if e["level"] == "SEVERE" and "tile.openstreetmap.org" not in e["message"]]


def _no_alert(driver) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        _ = driver.switch_to.alert.text
    except NoAlertPresentException:
        return True
    return False


def test_small_map_loads_offline_with_layers_and_inert_names(browser, tmp_path):
    m = build("zh")
    n_overlays = len(overlays(m))
    visible_markers = sum(len(points_of(layer)) for layer in overlays(m).values()
                          if hasattr(layer, "points_js") and layer.show)
    path = save_map(m, tmp_path / "map.html")
    _open(browser, path)
    assert _severe(browser) == []
    assert _no_alert(browser)
    # layer control lists every overlay; nothing from the data executed
    assert browser.execute_script(
        "return document.querySelectorAll('.leaflet-control-layers-overlays input').length"
    ) == n_overlays
    assert browser.execute_script("return window.__xss") is None
    assert browser.execute_script(
        "return document.querySelectorAll("
        "'.leaflet-marker-pane .leaflet-marker-icon:not(.ec-place)').length") == visible_markers
    # township names are drawn as text labels, as typed
    assert browser.execute_script(
        "return Array.from(document.querySelectorAll('.ec-town')).map(e => e.textContent)"
    ) == ["西乡", EVIL_IMG]
    # one demand layer is on (the uncovered elders), not two stacked colour ramps: one image
    imgs = browser.execute_script(
        "return Array.from(document.querySelectorAll('img.leaflet-image-layer'))"
        ".map(i => i.complete && i.naturalWidth > 0)")
    assert imgs == [True]
    # boundaries and the merge line are SVG paths in the overlay pane
    assert browser.execute_script(
        "return document.querySelectorAll('.leaflet-overlay-pane path').length") >= 4
    # open every popup: the hostile names show as text and still do not run
    texts = browser.execute_script(FIND_MAP + """
        var out = [];
        map.eachLayer(function (l) {
            if (l instanceof L.Marker && l.getPopup()) {
                l.openPopup();
                out.push(l.getPopup().getElement().querySelector('.leaflet-popup-content')
                    .textContent);
            }
        });
        return out;""")
    assert len(texts) == visible_markers
    joined = "\n".join(texts)
    assert EVIL in joined and EVIL_IMG in joined and EVIL_TEMPLATE in joined
    assert browser.execute_script("return window.__xss") is None
    assert browser.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-popup-content script')).length"
    ) == 0
    assert _no_alert(browser)
    # title, legend and scale bar are there; title shown verbatim
    assert browser.execute_script(
        "return document.querySelector('.ec-title').textContent") == "养老服务设施覆盖图"
    assert browser.execute_script("return !!document.querySelector('.ec-panel details')")
    assert browser.execute_script(
        "return document.querySelector('.leaflet-control-scale-line').textContent").endswith(
        ("km", " m"))
    assert browser.execute_script(
        "return document.querySelector('.leaflet-control-zoom-in').title") == "放大"
    assert browser.execute_script(
        "return !!document.querySelector('.leaflet-control-zoom-fullscreen')")
    # switching a hidden layer on adds its markers (the first service area is off by default)
    before = browser.execute_script(
        "return document.querySelectorAll('.leaflet-overlay-pane path, "
        ".leaflet-ec_areas-pane path').length")
    browser.execute_script(
        "Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
        ".find(l => l.textContent.indexOf('服务范围') >= 0).querySelector('input').click();")
    after = browser.execute_script(
        "return document.querySelectorAll('.leaflet-overlay-pane path, "
        ".leaflet-ec_areas-pane path').length")
    assert after == before + 1
    assert _severe(browser) == []


def test_hostile_title_shown_as_text(browser, tmp_path):
    d = small_inputs()
    m = coverage_map(d["counties"], None, None, d["facilities"], title=EVIL, tiles=True,
                     lang="en")
    path = save_map(m, tmp_path / "map.html")
    _open(browser, path)
    assert browser.execute_script("return document.title") == EVIL
    assert browser.execute_script("return document.querySelector('.ec-title').textContent") \
        == EVIL
    assert _no_alert(browser)
    assert _severe(browser) == []  # tile failures (no network) are filtered, nothing else


def test_report_renders(browser, tmp_path):
    from test_report import inputs

    from elder_coverage.report import write_report

    path = write_report(tmp_path / "report.html", **inputs(), lang="zh")
    browser.get_log("browser")
    browser.get(path.resolve().as_uri())
    assert _severe(browser) == []
    assert _no_alert(browser)
    assert browser.execute_script(
        "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
    ) == [True, True]
    assert EVIL in browser.execute_script("return document.body.textContent")
    assert browser.execute_script("return document.querySelectorAll('script').length") == 0


def test_sample_map_size_and_load(browser, tmp_path, sample_path):
    from elder_coverage.engine import compute_coverage
    from elder_coverage.study import load_sample

    # The sample as `make demo` builds it (built here when missing, so CI runs this too).
    study = load_sample(sample_path)
    fac = study.facilities
    if "status" in fac:
        fac = fac[fac["status"].fillna("open").isin(["open"])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = compute_coverage(study.cells, fac, None)
    m = coverage_map(study.counties, study.townships, result.cells, fac, lang="zh",
                     cell_size_m=study.cell_size_m)
    path = save_map(m, tmp_path / "sample_map.html")
    size = path.stat().st_size
    print(f"sample map: {size / 1e6:.2f} MB, {len(result.cells)} cells, {len(fac)} facilities")
    assert size < 15_000_000
    _open(browser, path)
    assert _severe(browser) == []
    markers = browser.execute_script(FIND_MAP + """
        var n = 0; map.eachLayer(function (l) { if (l instanceof L.Marker) n++; }); return n;""")
    assert markers == len(fac)


def test_unknown_kind_from_data_is_text_in_layer_control_and_legend(browser, tmp_path):
    # Leaflet writes layer names with innerHTML; a kind read from a file must stay text.
    d = small_inputs()
    fac = d["facilities"].copy()
    fac.loc[fac["id"] == "F", "kind"] = EVIL_IMG
    m = coverage_map(d["counties"], None, None, fac, title="t", tiles=False, lang="en")
    path = save_map(m, tmp_path / "map.html")
    _open(browser, path)
    labels = browser.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
        ".map(l => l.textContent.trim())")
    assert f"Facilities: {EVIL_IMG}" in labels
    legend = browser.execute_script("return document.querySelector('.ec-panel').textContent")
    assert f"{EVIL_IMG} (1)" in legend
    assert browser.execute_script("return window.__xss") is None
    assert browser.execute_script("return document.querySelectorAll('img[src=x]').length") == 0
    assert _no_alert(browser)
    assert _severe(browser) == []


def test_map_fits_a_laptop_screen_offline(browser, tmp_path):
    import networkx as nx

    d = small_inputs()
    # a road graph like the sample's: projected nodes with x/y, highway classes
    g = nx.MultiDiGraph(crs=d["cells"].crs)
    xs = [300_100.0, 302_500.0, 304_900.0]
    for i, x in enumerate(xs):
        g.add_node(i, x=x, y=4_842_500.0)
        g.add_node(10 + i, x=x, y=4_844_900.0)
        g.add_edge(i, 10 + i, highway="residential")
    g.add_edge(0, 1, highway="primary")
    g.add_edge(1, 0, highway="primary")  # the other direction is drawn once
    g.add_edge(1, 2, highway="primary")
    villages = gpd.GeoDataFrame({"name": ["前进村", EVIL_IMG]},
                                geometry=gpd.points_from_xy([301_000, 303_000],
                                                            [4_841_000, 4_843_000]),
                                crs=d["cells"].crs)
    m = coverage_map(d["counties"], d["townships"], d["cells"], d["facilities"],
                     merges=d["merges"], closed_ids=d["closed_ids"], roads=g,
                     places=villages, synthetic=True, title="吉林市示例", lang="zh")
    path = save_map(m, tmp_path / "map.html")
    browser.set_window_size(1280, 720)
    try:
        _open(browser, path)
        size = browser.execute_script("return [window.innerWidth, window.innerHeight]")
        assert size[1] < 800
        # layer control folded to its icon, legend folded: the map stays visible
        assert browser.execute_script(
            "return !!document.querySelector('.leaflet-control-layers-expanded')") is False
        assert browser.execute_script(
            "return document.querySelector('.ec-panel details').open") is False
        assert browser.execute_script(
            "return document.querySelector('.ec-title-text').textContent") == "吉林市示例"
        assert "合成示例数据" in browser.execute_script(
            "return document.querySelector('.ec-banner').textContent")
        # one demand layer on, the study's roads drawn (2 main + 3 minor segments merged
        # into 2 features), no tile requested from the network
        assert browser.execute_script(
            "return document.querySelectorAll('img.leaflet-image-layer').length") == 1
        assert browser.execute_script(
            "return document.querySelectorAll('.leaflet-ec_base-pane path').length") == 2
        assert browser.execute_script(
            "return document.querySelectorAll('img.leaflet-tile').length") == 0
        # village names appear from zoom 12, as text
        browser.execute_script(FIND_MAP + "map.setZoom(12);")
        time.sleep(0.5)
        names = browser.execute_script(
            "return Array.from(document.querySelectorAll('.ec-village')).map(e => e.textContent)")
        assert sorted(names) == sorted(["前进村", EVIL_IMG])
        assert browser.execute_script("return window.__xss") is None
        assert _severe(browser) == []
    finally:
        browser.set_window_size(1280, 900)
