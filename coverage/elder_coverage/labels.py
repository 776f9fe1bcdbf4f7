"""Chinese and English interface strings for maps, reports and the command line.

Facility-kind names live in :data:`elder_coverage.schema.KIND_LABELS`; this module holds every other
piece of text a planner reads, so that a map and a report of the same run use the same words.
Look strings up with :func:`text` (``text("uncovered", "en")``) and kinds with
:func:`kind_label`. Strings with ``{placeholders}`` are filled with :meth:`str.format`.
"""

from __future__ import annotations

from elder_coverage.schema import KIND_LABELS

#: Supported interface languages.
LANGS: tuple[str, ...] = ("zh", "en")

#: Short marker glyph per facility kind (drawn inside the map icon).
KIND_GLYPHS: dict[str, dict[str, str]] = {
    "county_home": {"zh": "县", "en": "H"},
    "township_centre": {"zh": "乡", "en": "T"},
    "rural_courtyard": {"zh": "院", "en": "C"},
    "dining_hall": {"zh": "餐", "en": "D"},
    "day_care": {"zh": "日", "en": "DC"},
    "embedded_centre": {"zh": "嵌", "en": "E"},
}

#: Marker colour per facility kind (hex); chosen to stay apart from the density ramp.
KIND_COLOURS: dict[str, str] = {
    "county_home": "#6a3d9a",
    "township_centre": "#1f78b4",
    "rural_courtyard": "#33a02c",
    "dining_hall": "#e6550d",
    "day_care": "#b15928",
    "embedded_centre": "#e7298a",
}

STRINGS: dict[str, dict[str, str]] = {
    # ---- map
    "map_title": {"zh": "养老服务设施覆盖图", "en": "Elder-care facility coverage"},
    "basemap_osm": {"zh": "OpenStreetMap 底图（需联网）",
                    "en": "OpenStreetMap basemap (needs network)"},
    "counties": {"zh": "县（市）界", "en": "County boundaries"},
    "townships": {"zh": "乡镇界", "en": "Township boundaries"},
    "density": {"zh": "{age}岁以上老人分布（每{size}米格网）",
                "en": "Elders aged {age}+ (per {size} m cell)"},
    "uncovered": {"zh": "未覆盖老人：{kind}", "en": "Uncovered elders: {kind}"},
    "uncovered_legend": {"zh": "未覆盖老人所在格网（颜色越深人数越多）",
                         "en": "Cells with uncovered elders (darker = more elders)"},
    "facilities_layer": {"zh": "设施：{kind}", "en": "Facilities: {kind}"},
    "service_area": {"zh": "服务范围：{kind}（{basis}）", "en": "Service area: {kind} ({basis})"},
    "service_area_legend": {"zh": "服务范围（颜色同设施类型，默认隐藏）",
                            "en": "Service areas (kind colours, off by default)"},
    "basis_radius": {"zh": "直线{radius}米", "en": "straight line {radius} m"},
    "basis_network": {"zh": "路网{minutes}分钟", "en": "{minutes} min by road"},
    "basis_fallback": {"zh": "无路网等时圈，按直线{radius}米近似",
                       "en": "≈ {radius} m radius, no road isochrones"},
    "closed_layer": {"zh": "撤并（关闭）的设施", "en": "Closed centres"},
    "receiving_layer": {"zh": "接收合并的设施", "en": "Receiving centres"},
    "merge_lines": {"zh": "撤并去向（关闭→接收）", "en": "Merges (closed → receiver)"},
    "new_sites": {"zh": "新增选址", "en": "New sites"},
    "legend": {"zh": "图例", "en": "Legend"},
    "persons": {"zh": "人", "en": "persons"},
    "no_data": {"zh": "无", "en": "n/a"},
    "yes": {"zh": "是", "en": "yes"},
    "no": {"zh": "否", "en": "no"},
    "fullscreen": {"zh": "全屏", "en": "Full screen"},
    "zoom_in": {"zh": "放大", "en": "Zoom in"},
    "zoom_out": {"zh": "缩小", "en": "Zoom out"},
    "fullscreen_exit": {"zh": "退出全屏", "en": "Exit full screen"},
    # ---- popup fields
    "f_name": {"zh": "名称", "en": "Name"},
    "f_id": {"zh": "编号", "en": "ID"},
    "f_kind": {"zh": "类型", "en": "Kind"},
    "f_capacity": {"zh": "床位/服务能力（人）", "en": "Capacity (persons)"},
    "f_occupancy": {"zh": "入住率", "en": "Occupancy"},
    "f_nursing_beds": {"zh": "护理型床位", "en": "Nursing beds"},
    "f_built_year": {"zh": "建成年份", "en": "Built"},
    "f_fire_safety_ok": {"zh": "消防合格", "en": "Fire safety passed"},
    "f_covered_elders": {"zh": "服务范围内老人（人）", "en": "Elders within standard (persons)"},
    "f_covered_elders_gain": {"zh": "新增覆盖老人（人）", "en": "Elders newly covered (persons)"},
    "f_covered_gain": {"zh": "新增覆盖（按方案度量）", "en": "Coverage gain (plan measure)"},
    "f_catchment_elders_moved": {"zh": "转由其他设施覆盖的老人（人）",
                                 "en": "Catchment elders moved (persons)"},
    "f_receiving_occupancy_before": {"zh": "接收前入住率", "en": "Receiver occupancy before"},
    "f_from": {"zh": "关闭设施", "en": "Closed centre"},
    "f_to": {"zh": "接收设施", "en": "Receiving centre"},
    "f_road_km": {"zh": "道路距离（公里）", "en": "Road distance (km)"},
    "f_residents_moved": {"zh": "转移入住老人（人）", "en": "Residents moved (persons)"},
    "f_receiving_occupancy_after": {"zh": "接收后入住率", "en": "Receiver occupancy after"},
    "f_township": {"zh": "乡镇", "en": "Township"},
    "f_county": {"zh": "县（市）", "en": "County"},
    "f_code": {"zh": "代码", "en": "Code"},
    "f_elders": {"zh": "{age}岁以上老人（人）", "en": "Elders {age}+ (persons)"},
    "f_covered_share": {"zh": "{kind}覆盖率", "en": "Covered by {kind}"},
    # ---- report
    "report_title": {"zh": "养老服务设施覆盖评估报告", "en": "Elder-care coverage report"},
    "summary": {"zh": "概要", "en": "Summary"},
    "indicators": {"zh": "政策指标与目标差距", "en": "Indicators against policy targets"},
    "c_indicator": {"zh": "指标", "en": "Indicator"},
    "c_value": {"zh": "现状值", "en": "Value"},
    "c_target": {"zh": "目标值", "en": "Target"},
    "c_year": {"zh": "目标年份", "en": "Target year"},
    "c_gap": {"zh": "差距", "en": "Gap"},
    "c_unit": {"zh": "单位", "en": "Unit"},
    "c_status": {"zh": "状态", "en": "Status"},
    "c_scope": {"zh": "目标范围", "en": "Target scope"},
    "c_source": {"zh": "依据（文号、条款）", "en": "Source (document, clause)"},
    "scope_study_area": {"zh": "研究区", "en": "study area"},
    "status_met": {"zh": "已达标", "en": "met"},
    "status_short": {"zh": "未达标", "en": "short"},
    "status_unknown": {"zh": "无目标", "en": "no target"},
    "by_county": {"zh": "分县（市）情况", "en": "By county"},
    "by_township": {"zh": "分乡镇情况", "en": "By township"},
    "charts": {"zh": "图表", "en": "Charts"},
    "merges": {"zh": "撤并整合方案", "en": "Close-and-merge plan"},
    "new_sites_table": {"zh": "新增选址", "en": "New sites"},
    "no_rows": {"zh": "（无）", "en": "(none)"},
    "generated_by": {"zh": "由 elder-coverage 生成", "en": "Generated by elder-coverage"},
    "chart_indicator_title": {"zh": "指标现状与目标", "en": "Indicators: value vs target"},
    "chart_county_title": {"zh": "分县覆盖率", "en": "Coverage by county"},
    "chart_value": {"zh": "现状", "en": "value"},
    "chart_target": {"zh": "目标", "en": "target"},
    "total": {"zh": "合计", "en": "Total"},
    "c_lon": {"zh": "经度", "en": "Longitude"},
    "c_lat": {"zh": "纬度", "en": "Latitude"},
    "c_before": {"zh": "调整前", "en": "Before"},
    "c_elders60": {"zh": "60岁以上老人（人）", "en": "Elders 60+ (persons)"},
    "c_elders65": {"zh": "65岁以上老人（人）", "en": "Elders 65+ (persons)"},
    "c_elders80": {"zh": "80岁以上老人（人）", "en": "Elders 80+ (persons)"},
    "c_share": {"zh": "{kind}覆盖率", "en": "{kind} coverage"},
    "c_beds": {"zh": "床位（张）", "en": "Beds"},
    "c_beds_per_1000": {"zh": "每千名老人床位", "en": "Beds per 1,000 elders"},
    "c_nursing_bed_share": {"zh": "护理型床位占比", "en": "Nursing-bed share"},
    "c_covered": {"zh": "覆盖老人（人）", "en": "Covered (persons)"},
    "c_covered_share": {"zh": "覆盖率", "en": "Covered share"},
    "c_uncovered": {"zh": "未覆盖老人（人）", "en": "Uncovered (persons)"},
    "c_unreachable": {"zh": "路网不可达老人（人）", "en": "Unreachable by road (persons)"},
    "c_basis": {"zh": "判定方式", "en": "Judged by"},
    "basis_network_short": {"zh": "路网时间", "en": "road travel time"},
    "basis_line_short": {"zh": "直线距离", "en": "straight-line distance"},
    "community": {"zh": "社区类服务（任一）", "en": "Community services (any)"},
    "coverage_by_kind": {"zh": "各类设施覆盖情况", "en": "Coverage by facility kind"},
    "notes": {"zh": "说明", "en": "Notes"},
    "scenario": {"zh": "方案", "en": "Scenario"},
    "synthetic_warning": {
        "zh": "注意：本报告使用合成示例数据，不代表真实地点与设施。",
        "en": "Note: this report uses SYNTHETIC sample data; it does not describe real places.",
    },
    "unit_share": {"zh": "%", "en": "%"},
    "unit_m2_person": {"zh": "平方米/人", "en": "m² per person"},
    "chart_font_note": {
        "zh": "（本机无中文字体，图中文字使用英文与代码。）",
        "en": "",
    },
    # ---- CLI
    "cli_map_written": {"zh": "地图已写入：{path}", "en": "map written: {path}"},
    "cli_report_written": {"zh": "报告已写入：{path}", "en": "report written: {path}"},
}


def check_lang(lang: str) -> str:
    """Return ``lang`` if supported, else raise ValueError naming the accepted values."""
    if lang not in LANGS:
        raise ValueError(f"lang={lang!r}: expected one of {LANGS}")
    return lang


def text(key: str, lang: str = "zh", **fields: object) -> str:
    """Interface string ``key`` in ``lang``, with ``{placeholders}`` filled from ``fields``.

    Raises
    ------
    KeyError
        Unknown ``key`` (the message names it).
    ValueError
        Unsupported ``lang``.
    """
    check_lang(lang)
    try:
        entry = STRINGS[key]
    except KeyError:
        raise KeyError(f"no interface string {key!r}") from None
    s = entry[lang]
    return s.format(**fields) if fields else s


def kind_label(kind: str, lang: str = "zh") -> str:
    """Display name of facility ``kind``; an unknown kind is shown as given."""
    check_lang(lang)
    return KIND_LABELS.get(kind, {}).get(lang, str(kind))


def kind_glyph(kind: str, lang: str = "zh") -> str:
    """One- or two-character marker glyph for ``kind`` ("?" when unknown)."""
    check_lang(lang)
    return KIND_GLYPHS.get(kind, {}).get(lang, "?")
