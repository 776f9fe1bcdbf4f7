"""The summary printed after a run: before/after labelled, shares as %, units, names, files."""

from __future__ import annotations

from elder_coverage.runner import RunOutput


def _summary() -> dict:
    return {
        "scenario": "{{ 7*191 }}", "elders_total": 2000,
        "kinds": {"township_centre": {"covered_elders": 880, "covered_share": 0.44},
                  "dining_hall": {"covered_elders": 500, "covered_share": 0.25}},
        "kinds_before": {"township_centre": {"covered_elders": 1000, "covered_share": 0.5},
                         "dining_hall": {"covered_elders": 500, "covered_share": 0.25}},
        "indicators": [{"indicator": "nursing_bed_share", "label_zh": "护理型床位占比",
                        "label_en": "Nursing-care share", "value": 0.107, "target": 0.55,
                        "year": 2025, "unit": "share"},
                       {"indicator": "floor_area_per_elder", "label_zh": "人均建筑面积",
                        "label_en": "Floor area per elder", "value": 0.477, "target": 0.12,
                        "year": None, "unit": "m2/person"}],
        "indicators_before": [{"indicator": "nursing_bed_share", "year": 2025, "value": 0.108},
                              {"indicator": "floor_area_per_elder", "year": None,
                               "value": 0.486}],
        "analyses": {"close_merge": {
            "closed": ["TO1"], "centres_assessed": 3, "coverage_target": 0.9,
            "closed_centres": [{"id": "TO1", "name": "上营镇敬老院"}],
            "before": {"covered_elders": 1000, "covered_share": 0.5},
            "after": {"covered_elders": 880, "covered_share": 0.44},
            "elders_losing_coverage": 120}},
        "outputs": {"map": "map.html", "report": "report.html"},
    }


def test_console_summary_zh(tmp_path):
    for name in ("map.html", "report.html", "summary.json", "facilities.csv"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    text = RunOutput(tmp_path, _summary()).describe("zh")
    lines = text.splitlines()
    assert lines[0] == "情景: {{ 7*191 }}"
    assert "60岁及以上老年人 (2020): 2,000 人" in lines
    assert "服务范围内老人（人，覆盖率）: 现状 → 方案后" in lines
    # schema order (township centre before dining hall), before → after
    assert lines[3:5] == ["  乡镇福利服务中心/区域养老服务中心: 1,000 (50.0%) → 880 (44.0%)",
                          "  助老餐厅/老年食堂: 500 (25.0%) → 500 (25.0%)"]
    assert "  护理型床位占比 (2025): 10.8% → 10.7% / 55.0%" in lines
    assert "  人均建筑面积: 0.49 平方米/人 → 0.48 平方米/人 / 0.12 平方米/人" in lines
    assert "撤并: 关闭 1 / 3: 上营镇敬老院 (TO1)" in lines
    assert ("  服务范围内老人: 现状 1,000 (50.0%) → 方案后 880 (44.0%); 失去覆盖 120; "
            "目标 ≥ 900") in lines
    # every file written, not only the map and the report
    assert lines[-4:] == ["  facilities.csv", "  map.html", "  report.html", "  summary.json"]
    assert "调整前" not in text


def test_console_summary_en(tmp_path):
    text = RunOutput(tmp_path, _summary()).describe("en")
    assert "policy indicators (before → after / target):" in text
    assert "  Floor area per elder: 0.49 m²/person → 0.48 m²/person / 0.12 m²/person" in text
    assert "close/merge: closing 1 / 3: 上营镇敬老院 (TO1)" in text
    assert "losing coverage 120; target ≥ 900" in text
