"""HTML report: values against targets, escaping, charts, print CSS, same bytes every run."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest

import elder_coverage.report as report
from elder_coverage.report import report_html, write_report

EVIL = "<script>alert(1)</script>"
EVIL_IMG = '<img src=x onerror="window.__xss=1">'


def inputs() -> dict:
    """Hand-made run outputs: 3 indicator rows, 2 counties, 3 townships, one merge."""
    indicators = pd.DataFrame({
        "indicator": ["township_centre_seat_coverage", "township_centre_seat_coverage",
                      "nursing_bed_share", "floor_area_per_elder"],
        "label_zh": ["乡镇区域养老服务中心覆盖率"] * 2 + ["护理型床位占比", EVIL],
        "label_en": ["Townships reached by a centre"] * 2 + ["Nursing-bed share", EVIL],
        "value": [0.756, 0.756, 0.155, np.nan],
        "target": [0.60, 0.80, 0.55, 0.12],
        "year": [2025, 2029, 2025, np.nan],
        "gap": [0.60 - 0.756, 0.80 - 0.756, 0.55 - 0.155, np.nan],
        "unit": ["share", "share", "share", "m2/person"],
        "note": ["", "", "339 facilities without nursing_beds counted as 0", EVIL_IMG],
    })
    counties = pd.DataFrame({
        "level": "county", "code": ["220221", "220281"], "name": ["永吉县", EVIL],
        "elders_60": [64312.0, 87191.0], "township_centre_share": [0.556, 0.573],
        "dining_hall_share": [0.154, 0.23], "community_share": [0.319, 0.49],
        "beds": [1803.0, 3658.0], "beds_per_1000": [28.04, 41.95],
        "nursing_bed_share": [0.177, 0.143]})
    townships = pd.DataFrame({
        "level": "township", "code": ["T1", "T2", "unassigned"],
        "name": ["口前镇", EVIL_IMG, None], "elders_60": [13524.0, 7321.0, 3.0],
        "township_centre_share": [0.0, 0.119, np.nan]})
    merges = pd.DataFrame({"from_id": ["TO1"], "from_name": [EVIL], "to_id": ["TO2"],
                           "to_name": ["东乡中心"], "road_km": [3.04], "residents_moved": [15],
                           "receiving_occupancy_before": [None],
                           "receiving_occupancy_after": [0.95], "catchment_elders_moved": [420]})
    summary = {"scenario": "合并" + EVIL, "synthetic": True, "elders_total": 430318,
               "elders_65": 293996, "elders_80": 44442,
               "kinds": {"dining_hall": {"covered_elders": 90000, "covered_share": 0.2091,
                                         "uncovered_elders": 340318, "unreachable_elders": 12,
                                         "network": True}},
               "indicators_before": [{"indicator": "nursing_bed_share", "year": 2025,
                                      "value": 0.101}],
               "notes": [EVIL_IMG], "elder_coverage_version": "0.1.0"}
    return {"summary": summary, "indicators": indicators, "counties_table": counties,
            "townships_table": townships, "merges": merges}


def _rows(page: str, heading: str) -> list[list[str]]:
    """Cell texts of the first table after the <h2> ``heading`` (tags stripped)."""
    start = page.index(f"<h2>{heading}</h2>")
    table = page[page.index("<tbody>", start): page.index("</tbody>", start)]
    return [[re.sub(r"<[^>]+>", "|", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr>(.*?)</tr>", table)]


def test_indicator_table_values_and_status_zh():
    page = report_html(**inputs(), lang="zh")
    rows = _rows(page, "政策指标与目标差距")
    assert len(rows) == 4
    # label, before, value, target, year, gap, unit, status
    assert rows[0][1:] == ["–", "75.6%", "60.0%", "2025", "-15.6%", "%", "已达标"]
    assert rows[1][1:] == ["–", "75.6%", "80.0%", "2029", "4.4%", "%", "未达标"]
    assert rows[2][0].startswith("护理型床位占比|")
    assert rows[2][1:] == ["10.1%", "15.5%", "55.0%", "2025", "39.5%", "%", "未达标"]
    assert rows[3][1:] == ["–", "–", "0.12", "–", "–", "平方米/人", "无目标"]
    assert 'class="met"' in page and 'class="short"' in page


def test_area_tables_and_merges_en():
    page = report_html(**inputs(), lang="en")
    counties = _rows(page, "By county")
    assert counties[0] == ["220221", "永吉县", "64,312", "55.6%", "15.4%", "31.9%", "1,803",
                           "28.0", "17.7%"]
    heads = page[page.index("<h2>By county</h2>"):]
    heads = re.findall(r"<th>(.*?)</th>", heads[: heads.index("</thead>")])
    assert heads == ["Code", "Name", "Elders 60+ (persons)", "Township welfare centre coverage",
                     "Elder dining hall coverage", "Community services (any) coverage", "Beds",
                     "Beds per 1,000 elders", "Nursing-bed share"]
    towns = _rows(page, "By township")
    assert towns[2] == ["unassigned", "", "3", "–"]
    merges = _rows(page, "Close-and-merge plan")
    assert merges == [["&lt;script&gt;alert(1)&lt;/script&gt;", "TO1", "东乡中心", "TO2", "3.0",
                       "15", "420", "–", "95%"]]
    kinds = page[page.index("Coverage by facility kind"):]
    assert "90,000" in kinds and "20.9%" in kinds and "road travel time" in kinds


def test_everything_from_data_is_escaped():
    for lang in ("zh", "en"):
        page = report_html(**inputs(), lang=lang)
        assert EVIL not in page and EVIL_IMG not in page
        assert "<script" not in page.lower()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "onerror=&#34;window.__xss=1&#34;" in page  # markupsafe writes " as &#34;
    page = report_html(**inputs(), lang="zh", title=EVIL)
    assert f"<title>{EVIL}" not in page and "<h1>&lt;script&gt;" in page


def test_same_inputs_same_bytes(tmp_path):
    a = write_report(tmp_path / "a.html", **inputs(), lang="zh")
    b = write_report(tmp_path / "b.html", **inputs(), lang="zh")
    assert a.read_bytes() == b.read_bytes()
    report.cjk_font.cache_clear()  # a second font lookup must not change the result
    c = write_report(tmp_path / "c.html", **inputs(), lang="zh")
    assert c.read_bytes() == a.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.html", "c.html"]


def test_charts_are_embedded_pngs_without_metadata():
    page = report_html(**inputs(), lang="en")
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(uris) == 2
    for uri in uris:
        png = base64.b64decode(uri)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"tEXt" not in png and b"matplotlib" not in png.lower()
    assert "data:image/png" not in report_html(**inputs(), lang="en", charts=False)


def test_without_cjk_font_charts_fall_back_to_english(monkeypatch):
    monkeypatch.setattr(report, "cjk_font", lambda: None)
    page = report_html(**inputs(), lang="zh")
    assert "本机无中文字体" in page
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 2
    # zh labels still fill the tables
    assert "<h2>分县（市）情况</h2>" in page


def test_print_stylesheet_for_a4():
    page = report_html(**inputs(), lang="zh")
    css = page[page.index("<style>"): page.index("</style>")]
    assert "@page{size:A4" in css
    media = css[css.index("@media print"):]
    assert "thead{display:table-header-group}" in media
    assert "page-break-inside:avoid" in media


def test_optional_sections():
    d = inputs()
    page = report_html(summary={}, indicators=d["indicators"], counties_table=None,
                       townships_table=None, lang="en")
    assert "Close-and-merge plan" not in page and "New sites" not in page
    assert page.count("(none)") == 2  # both area sections
    d["merges"] = d["merges"].iloc[:0]
    d["new_sites"] = pd.DataFrame({"kind": ["dining_hall"], "id": ["NEW-7"], "name": ["N1"],
                                   "covered_gain": [321.0], "lon": [126.5], "lat": [43.8]})
    page = report_html(**d, lang="en")
    assert _rows(page, "New sites") == [["Elder dining hall", "NEW-7", "N1", "321", "126.50000",
                                         "43.80000"]]
    heads = page[page.index("<h2>New sites</h2>"):]
    assert re.findall(r"<th>(.*?)</th>", heads)[-3:] == ["Coverage gain (plan measure)",
                                                         "Longitude", "Latitude"]
    assert "<h2>Close-and-merge plan</h2>\n<p class=\"na\">(none)</p>" in page


def test_bad_input_named_and_nothing_written(tmp_path):
    d = inputs()
    d["indicators"] = d["indicators"].drop(columns=["gap"])
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(ValueError, match=r"indicators: missing column\(s\) \['gap'\]"):
        write_report(target, **d)
    assert target.read_text(encoding="utf-8") == "old"
    assert list(tmp_path.iterdir()) == [target]
    with pytest.raises(ValueError, match="lang="):
        report_html(**inputs(), lang="de")


# --------------------------------------------------------------------------- before / after


def plan_inputs() -> dict:
    """A close/merge run by hand: 3 centres → 2, 1,000 covered elders → 880, 120 lost."""
    d = inputs()
    d["summary"] = dict(d["summary"], kinds_before={
        "dining_hall": {"covered_elders": 85000, "covered_share": 0.19753}})
    d["summary"]["analyses"] = {"close_merge": {
        "kind": "township_centre", "coverage_target": 0.9,
        "before": {"centres": 3, "elders": 2000, "covered_elders": 1000, "covered_share": 0.5,
                   "mean_time_min": 20.0},
        "after": {"centres": 2, "elders": 2000, "covered_elders": 880, "covered_share": 0.44,
                  "mean_time_min": 23.25},
        "elders_losing_coverage": 120,
        "closed_centres": [{"id": "TO1", "name": EVIL, "covered_before": 300,
                            "still_covered": 180, "lost": 120, "receivers": ["东乡中心"]}]}}
    return d


def _heads(page: str, heading: str) -> list[str]:
    part = page[page.index(heading):]
    return re.findall(r"<th>(.*?)</th>", part[: part.index("</thead>")])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_close_merge_before_after_lost_target(lang):
    page = report_html(**plan_inputs(), lang=lang)
    impact = "撤并前后覆盖（乡镇福利服务中心/区域养老服务中心）" if lang == "zh" else \
        "Coverage before and after (Township welfare centre)"
    heads = _heads(page, impact)
    before, after = ("现状", "方案后") if lang == "zh" else ("Before", "After")
    assert heads[1:3] == [before, after]
    part = page[page.index(impact):]
    rows = [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr>(.*?)</tr>", part[: part.index("</tbody>")])]
    rows = [r for r in rows if r]  # the header row has no <td>
    met = "已达标" if lang == "zh" else "met"
    # measure, before, after, change, target, status; target = ceil(0.9 × 1,000) = 900 > 880
    assert rows[0][1:4] == ["3", "2", "-1"]
    assert rows[1][1:] == ["1,000", "880", "-120", "≥ 900", "未达标" if lang == "zh" else "short"]
    assert met not in rows[1]
    assert rows[2][1:4] == ["50.0%", "44.0%", "-6.0%"]
    assert rows[3][2] == "120"  # elders losing coverage
    assert rows[4][1:4] == ["20.0", "23.2", "+3.2"]
    closed = "关闭设施逐一说明" if lang == "zh" else "Each closed centre"
    part = page[page.index(closed):]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", part[: part.index("</tbody>")])
    assert cells == ["&lt;script&gt;alert(1)&lt;/script&gt;", "TO1", "300", "180", "120",
                     "东乡中心"]
    # still covered + lost = covered before (the per-centre figures add up)
    assert int(cells[3]) + int(cells[4]) == int(cells[2])


def test_one_vocabulary_before_is_xianzhuang_after_is_fanganhou():
    page = report_html(**plan_inputs(), lang="zh")
    assert "调整前" not in page
    # indicator table: 现状 then 方案后, the after value under 方案后
    assert _heads(page, "政策指标与目标差距")[1:3] == ["现状", "方案后"]
    rows = _rows(page, "政策指标与目标差距")
    assert rows[2][1:3] == ["10.1%", "15.5%"]
    kinds = _heads(page, "各类设施覆盖情况")
    assert kinds[1:6] == ["现状：覆盖老人（人）", "现状：覆盖率", "方案后：覆盖老人（人）",
                          "方案后：覆盖率", "变化"]
    row = _rows(page, "概要")
    assert row[0][1:6] == ["85,000", "19.8%", "90,000", "20.9%", "+5,000"]
    # without a plan there is no before: the value is the current state, 现状值
    d = inputs()
    d["summary"] = {k: v for k, v in d["summary"].items() if k != "indicators_before"}
    plain = report_html(**d, lang="zh")
    assert _heads(plain, "政策指标与目标差距")[1] == "现状值" and "方案后" not in plain


def test_indicator_chart_legend_follows_the_vocabulary(monkeypatch):
    legends = []

    def capture(fig):
        legends.append([t.get_text() for t in fig.axes[0].get_legend().get_texts()])
        return "data:image/png;base64,"

    monkeypatch.setattr(report, "_png", capture)
    monkeypatch.setattr(report, "cjk_font", lambda: "DejaVu Sans")
    report_html(**plan_inputs(), lang="zh")
    d = inputs()
    d["summary"] = {k: v for k, v in d["summary"].items() if k != "indicators_before"}
    report_html(**d, lang="zh")
    report_html(**plan_inputs(), lang="en")
    assert sorted(legends[0]) == sorted(["方案后", "目标"])  # after a plan: after values
    assert sorted(legends[2]) == sorted(["现状", "目标"])  # no plan: the current state
    assert sorted(legends[4]) == ["after", "target"]


def test_zh_notes_are_chinese():
    d = inputs()
    d["summary"]["notes"] = [
        "dining_hall: 842 populated cell(s) cannot reach any facility by walk network (too far "
        "from a road or in another part of the graph), e.g. cell_id=[14675, 15417, 15418]"]
    d["indicators"]["note"] = ["", "", "339 facilit(y/ies) without nursing_beds counted as 0",
                               "standards: dining_hall 15 min walk, day_care 15 min walk"]
    page = report_html(**d, lang="zh", charts=False)
    assert "<li>助老餐厅/老年食堂：842个有老人的格网经步行路网无法到达任何设施" in page
    assert "14675" not in page and "cell_id" not in page  # internal ids stay in the CSV
    assert "339处设施未填护理型床位数，按0计" in page
    assert "标准：助老餐厅/老年食堂步行15分钟、日间照料中心步行15分钟" in page
    for english in ("populated", "nursing_beds", "facilit", "standards:"):
        assert english not in page


# --------------------------------------------------------------------------- the demo plan


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, sample_path):
    """The shipped demo's close/merge analysis, run once in zh (about two minutes)."""
    import warnings

    from elder_coverage.runner import default_scenario, only_analysis, run_scenario

    out = tmp_path_factory.mktemp("demo") / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = run_scenario(only_analysis(default_scenario(), "close_merge"), out, lang="zh")
    return run


def _impact_rows(page: str, heading: str) -> list[list[str]]:
    part = page[page.index(heading):]
    rows = [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr>(.*?)</tr>", part[: part.index("</tbody>")])]
    return [r for r in rows if r]


@pytest.mark.slow
def test_demo_report_before_after_lost_target_zh_and_en(demo_run, tmp_path):
    s = demo_run.summary
    cm = s["analyses"]["close_merge"]
    b, a = cm["before"], cm["after"]
    lost = int(round(pd.read_csv(demo_run.folder / "lost_coverage.csv")["elders_60"].sum()))
    # closing centres gains nobody coverage: after = before - lost, elder by elder
    assert a["covered_elders"] == b["covered_elders"] - lost == b["covered_elders"] - \
        cm["elders_losing_coverage"]
    assert sum(c["lost"] for c in cm["closed_centres"]) == lost
    need = int(np.ceil(0.9 * b["covered_elders"] - 1e-9))
    zh = (demo_run.folder / "report.html").read_text(encoding="utf-8")
    en_path = write_report(
        tmp_path / "report_en.html", summary=s,
        indicators=pd.read_csv(demo_run.folder / "indicators_final.csv"),
        counties_table=pd.read_csv(demo_run.folder / "coverage_by_county.csv",
                                   dtype={"code": str}),
        townships_table=None, merges=pd.read_csv(demo_run.folder / "merges.csv"), lang="en",
        charts=False)
    en = en_path.read_text(encoding="utf-8")
    for page, heading, head in ((zh, "撤并前后覆盖", ["现状", "方案后"]),
                                (en, "Coverage before and after", ["Before", "After"])):
        assert _heads(page, heading)[1:3] == head
        rows = _impact_rows(page, heading)
        assert rows[1][1:5] == [f"{b['covered_elders']:,}", f"{a['covered_elders']:,}",
                                f"{a['covered_elders'] - b['covered_elders']:+,}", f"≥ {need:,}"]
        assert rows[3][2] == f"{lost:,}"
        for c in cm["closed_centres"]:
            assert f"<td>{c['name']}</td><td>{c['id']}</td>" in page
    assert "调整前" not in zh


@pytest.mark.slow
def test_demo_zh_report_has_no_english_prose(demo_run):
    page = (demo_run.folder / "report.html").read_text(encoding="utf-8")
    body = page[page.index("<body>"):]
    words = set(re.findall(r"[A-Za-z][A-Za-z_]{2,}", re.sub(r"<[^>]+>", " ", body)))
    # left: the scenario's name, the program's name, facility ids (TO00036, NEW-…)
    assert words <= {"demo", "elder", "coverage"}, sorted(words)
    reasons = pd.read_csv(demo_run.folder / "close_merge_assessment.csv")["reasons"].dropna()
    assert len(reasons) and not reasons.str.contains(r"[A-Za-z]{3,}").any(), reasons.tolist()
