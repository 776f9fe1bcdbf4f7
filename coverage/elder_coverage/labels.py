"""Chinese and English interface strings for maps, reports and the command line.

Facility-kind names, glyphs and colours live in ``kinds.yaml`` (:mod:`elder_coverage.kinds`);
this module holds every other piece of text a planner reads, so that a map and a report of the
same run use the same words.
Look strings up with :func:`text` (``text("uncovered", "en")``) and kinds with
:func:`kind_label`. Strings with ``{placeholders}`` are filled with :meth:`str.format`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from elder_coverage.kinds import facility_kinds
from elder_coverage.schema import KIND_LABELS

#: Supported interface languages.
LANGS: tuple[str, ...] = ("zh", "en")

#: Short marker glyph per facility kind (drawn inside the map icon), from ``kinds.yaml``.
KIND_GLYPHS: dict[str, dict[str, str]] = {
    k.code: {"zh": k.glyph_zh, "en": k.glyph_en} for k in facility_kinds()
}

#: Marker colour per facility kind (hex), from ``kinds.yaml``.
KIND_COLOURS: dict[str, str] = {k.code: k.colour for k in facility_kinds()}

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
    "basis_network": {"zh": "{mode}{minutes}分钟", "en": "{minutes} min {mode}"},
    "travel_walk": {"zh": "步行", "en": "walk"},
    "travel_drive": {"zh": "车行", "en": "drive"},
    "roads_major": {"zh": "底图：主要道路（离线）", "en": "Base: main roads (offline)"},
    "roads_minor": {"zh": "底图：其他道路（离线）", "en": "Base: other roads (offline)"},
    "township_names": {"zh": "底图：乡镇名称", "en": "Base: township names"},
    "village_names": {"zh": "底图：村名（放大后显示）", "en": "Base: village names (zoom in)"},
    "synthetic_banner": {"zh": "合成示例数据：不代表真实地点与设施",
                         "en": "SYNTHETIC sample data: not real places or facilities"},
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
    "f_covered_elders_after": {"zh": "方案后服务范围内老人（人）",
                               "en": "Elders within standard, after (persons)"},
    "f_covered_elders_before": {"zh": "现状服务范围内老人（人）",
                                "en": "Elders within standard, before (persons)"},
    "f_covered_elders_gain": {"zh": "新增覆盖老人（人）", "en": "Elders newly covered (persons)"},
    "f_covered_gain": {"zh": "新增覆盖（按方案度量）", "en": "Coverage gain (plan measure)"},
    "f_catchment_elders_moved": {"zh": "最近中心改为该接收设施的老人（人）",
                                 "en": "Elders whose nearest centre becomes this one (persons)"},
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
    "c_after": {"zh": "方案后", "en": "After"},
    "c_change": {"zh": "变化", "en": "Change"},
    "c_lost": {"zh": "失去覆盖的老人（人）", "en": "Elders losing coverage (persons)"},
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
    "chart_indicator_title_after": {"zh": "指标方案后与目标", "en": "Indicators: after vs target"},
    "chart_county_title": {"zh": "分县覆盖率", "en": "Coverage by county"},
    "chart_value": {"zh": "现状", "en": "before"},
    "chart_value_after": {"zh": "方案后", "en": "after"},
    "chart_target": {"zh": "目标", "en": "target"},
    "total": {"zh": "合计", "en": "Total"},
    "c_lon": {"zh": "经度", "en": "Longitude"},
    "c_lat": {"zh": "纬度", "en": "Latitude"},
    "c_before": {"zh": "现状", "en": "Before"},
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
    # ---- close / merge impact
    "cm_impact": {"zh": "撤并前后覆盖（{kind}）", "en": "Coverage before and after ({kind})"},
    "cm_measure": {"zh": "项目", "en": "Measure"},
    "cm_centres": {"zh": "设施数（处）", "en": "Centres"},
    "cm_covered": {"zh": "服务范围内老人（人）", "en": "Elders within the standard (persons)"},
    "cm_share": {"zh": "覆盖率", "en": "Covered share"},
    "cm_lost": {"zh": "失去覆盖的老人（人）", "en": "Elders losing coverage (persons)"},
    "cm_mean_time": {"zh": "平均出行时间（分钟）", "en": "Mean travel time (min)"},
    "cm_target": {"zh": "目标：保留现状覆盖老人的{share}（至少{n}人）",
                  "en": "Target: keep {share} of the elders covered before (at least {n})"},
    "cm_closed_table": {"zh": "关闭设施逐一说明", "en": "Each closed centre"},
    "cm_served_before": {"zh": "现状以其为最近中心且被覆盖的老人（人）",
                         "en": "Covered elders whose nearest centre it was, before (persons)"},
    "cm_still_covered": {"zh": "其中方案后仍被覆盖（人）",
                         "en": "Of them still covered after (persons)"},
    "cm_lost_here": {"zh": "其中失去覆盖（人）", "en": "Of them losing coverage (persons)"},
    "cm_receivers": {"zh": "接收设施", "en": "Receiving centres"},
    "cm_merge_table": {"zh": "入住老人转移去向", "en": "Where the residents move"},
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


def _mode(travel: str, lang: str) -> str:
    return text(f"travel_{travel}", lang) if travel in ("walk", "drive") else travel


def _limits(spec: str, lang: str) -> str:
    # "dining_hall 15 min walk, day_care 15 min walk" -> labelled, localized list
    out = []
    for part in spec.split(", "):
        m = re.fullmatch(r"(\w+) ([\d.]+) min (\w+)", part)
        if m is None:
            return spec
        kind, minutes, travel = m.groups()
        out.append(f"{kind_label(kind, 'zh')}{_mode(travel, 'zh')}{minutes}分钟" if lang == "zh"
                   else f"{kind_label(kind, 'en')} {minutes} min {_mode(travel, 'en')}")
    return ("、" if lang == "zh" else ", ").join(out)


_Fill = Callable[[re.Match[str], str], str]

#: (pattern, zh text, en text) of every planner-facing message the pipeline writes in English
#: (engine notes, indicator notes, close/merge reasons). Internal kind names become labels and
#: cell ids are left out: the tables name the cells.
_MESSAGES: list[tuple[str, _Fill, _Fill]] = [
    (r"(\w+): no facilities of this kind; all (\d+) evaluated cells uncovered",
     lambda m, lg: f"{kind_label(m[1], lg)}：无此类设施，{m[2]}个参评格网均未覆盖",
     lambda m, lg: f"{kind_label(m[1], lg)}: no facilities of this kind; all {m[2]} "
                   "evaluated cells uncovered"),
    (r"(\w+): (\d+) facilit\(y/ies\) farther than ([\d.]+) m from the (\w+) graph serve "
     r"nobody by road, e\.g\. id=.*",
     lambda m, lg: f"{kind_label(m[1], lg)}：{m[2]}处设施距{_mode(m[4], lg)}路网超过{m[3]}米，"
                   "按路网计不服务任何老人",
     lambda m, lg: f"{kind_label(m[1], lg)}: {m[2]} facilit(y/ies) more than {m[3]} m from the "
                   f"{_mode(m[4], lg)} road network serve nobody by road"),
    (r"(\w+): (\d+) populated cell\(s\) cannot reach any facility by (\w+) network .*",
     lambda m, lg: f"{kind_label(m[1], lg)}：{m[2]}个有老人的格网经{_mode(m[3], lg)}路网无法到达"
                   "任何设施（离道路太远，或位于路网不连通的部分）",
     lambda m, lg: f"{kind_label(m[1], lg)}: {m[2]} populated cell(s) cannot reach any facility "
                   f"by {_mode(m[3], lg)} network (too far from a road or in a disconnected "
                   "part of it)"),
    (r"(\w+) graph has (\d+) disconnected parts: the largest holds (\d+) of (\d+) usable "
     r"nodes, (\d+) nodes lie in other parts.*",
     lambda m, lg: f"{_mode(m[1], lg)}路网分为{m[2]}个互不连通的部分：最大部分含{m[4]}个可用节点"
                   f"中的{m[3]}个，其余{m[5]}个节点处的老人只能到达同一部分内的设施",
     lambda m, lg: f"{_mode(m[1], lg)} road network has {m[2]} disconnected parts: the largest "
                   f"holds {m[3]} of {m[4]} usable nodes; elders near the other {m[5]} nodes "
                   "reach only facilities in the same part"),
    (r"(\w+) graph has no usable edge.*",
     lambda m, lg: f"{_mode(m[1], lg)}路网没有可用路段：任何地点都无法经其到达",
     lambda m, lg: f"{_mode(m[1], lg)} road network has no usable road: nothing is reachable"),
    (r"(\w+) graph: (\d+) usable nodes, connected",
     lambda m, lg: f"{_mode(m[1], lg)}路网：{m[2]}个可用节点，全部连通",
     lambda m, lg: f"{_mode(m[1], lg)} road network: {m[2]} usable nodes, connected"),
    (r"not available: no township layer given",
     lambda m, lg: "无法计算：未提供乡镇图层", lambda m, lg: m[0]),
    (r"(\d+) township\(s\) without a seat point counted as not covered",
     lambda m, lg: f"{m[1]}个乡镇无驻地点位，按未覆盖计", lambda m, lg: m[0]),
    (r"no township centres given", lambda m, lg: "未提供乡镇敬老院", lambda m, lg: m[0]),
    (r"no rural townships in the township table",
     lambda m, lg: "乡镇表中没有农村乡镇", lambda m, lg: m[0]),
    (r"no urban street communities in the township table",
     lambda m, lg: "乡镇表中没有城市街道", lambda m, lg: m[0]),
    (r"not available: no village table", lambda m, lg: "无法计算：未提供村表",
     lambda m, lg: m[0]),
    (r"villages with >= ([\d.]+) elders aged 60\+",
     lambda m, lg: f"按60岁以上老人不少于{m[1]}人的村计", lambda m, lg: m[0]),
    (r"no village has >= ([\d.]+) elders aged 60\+",
     lambda m, lg: f"没有60岁以上老人不少于{m[1]}人的村", lambda m, lg: m[0]),
    (r"standards: (.*)", lambda m, lg: "标准：" + _limits(m[1], lg),
     lambda m, lg: "standards: " + _limits(m[1], lg)),
    (r"not available: coverage has no community-level kinds",
     lambda m, lg: "无法计算：覆盖结果中没有社区类设施", lambda m, lg: m[0]),
    (r"(\d+) facilit\(y/ies\) without nursing_beds counted as 0",
     lambda m, lg: f"{m[1]}处设施未填护理型床位数，按0计",
     lambda m, lg: f"{m[1]} facilit(y/ies) without a nursing-bed count counted as 0"),
    (r"not available: facilities have no nursing_beds",
     lambda m, lg: "无法计算：设施表没有护理型床位数",
     lambda m, lg: "not available: the facility table has no nursing-bed counts"),
    (r"(\d+) of (\d+) facilities report no floor area \(value is a lower bound\)",
     lambda m, lg: f"{m[2]}处设施中{m[1]}处未填建筑面积（数值为下限）", lambda m, lg: m[0]),
    (r"not available: facilities have no floor_area_m2",
     lambda m, lg: "无法计算：设施表没有建筑面积",
     lambda m, lg: "not available: the facility table has no floor areas"),
    (r"built (\d+) \(< (\d+)\)", lambda m, lg: f"建于{m[1]}年（早于{m[2]}年）",
     lambda m, lg: m[0]),
    (r"occupancy (\d+)% \(< (\d+)%\)", lambda m, lg: f"入住率{m[1]}%（低于{m[2]}%）",
     lambda m, lg: m[0]),
    (r"failed fire safety", lambda m, lg: "消防检查不合格", lambda m, lg: m[0]),
    # Engine notes of walking access and kinds without facilities (split at "; ").
    (r"(\w+): (\d+) populated cell\(s\) cannot reach any facility by (\w+), neither by road "
     r"nor directly off-road within the standard.*",
     lambda m, lg: f"{kind_label(m[1], lg)}：{m[2]}个有老人的格网{_mode(m[3], lg)}既不能经路网、"
                   "也不能直接在标准内到达任何设施（离所有道路太远，或只连着路网的孤立片段）",
     lambda m, lg: m[0]),
    (r"(\w+): no facilities of this kind",
     lambda m, lg: f"{kind_label(m[1], lg)}：无此类设施", lambda m, lg: m[0]),
    (r"all (\d+) evaluated cells uncovered",
     lambda m, lg: f"{m[1]}个参评格网均未覆盖", lambda m, lg: m[0]),
    # Demand (target-year elders).
    (r"demand: 2020 census \(no projection\)",
     lambda m, lg: "需求：2020年第七次人口普查（未作预测）", lambda m, lg: m[0]),
    (r"demand: elders of (\d+) projected from the 2010 and 2020 censuses.*",
     lambda m, lg: f"需求：{m[1]}年老年人口由2010年与2020年人口普查，按汉密尔顿–佩里队列变动比法"
                   "分县、分性别、分五岁组推算；假定2010–2020年的比率（死亡与迁移合计）延续至2030年",
     lambda m, lg: m[0]),
    (r"demand: open band 85\+ from the 75\+ of ten years earlier.*",
     lambda m, lg: "需求：85岁及以上由十年前75岁及以上推算；2025年取十年比率的平方根；2025至2030年"
                   "之间按线性插值（2029年 = 2025年 + 0.8 ×（2030年 − 2025年））",
     lambda m, lg: m[0]),
    (r"demand: ratios on areas that are the same in both censuses.*",
     lambda m, lg: "需求：比率按两次普查范围相同的区域计算"
                   "（更名的县相互对应，开发区并入其所从出的区）",
     lambda m, lg: m[0]),
    (r"demand: each county's grid rescaled per age group.*",
     lambda m, lg: "需求：各县格网按年龄组（60–64、65–79、80岁及以上）缩放，县内空间分布沿用2020年",
     lambda m, lg: m[0]),
    # Indicator notes (elder_coverage.indicators).
    (r"target set for all of (.+)", lambda m, lg: f"目标针对{m[1]}全市", lambda m, lg: m[0]),
    (r"target set for (.+); the study area lies outside it",
     lambda m, lg: f"目标针对{m[1]}，研究区不在其范围内", lambda m, lg: m[0]),
    (r"compared with the study area's rate",
     lambda m, lg: "以研究区的比率与之比较", lambda m, lg: m[0]),
    (r"(\d+) with their own centre, (\d+) listed in a centre's serves_townships, (\d+) reached "
     r"by a centre in another township \(([\d.]+) min drive\)",
     lambda m, lg: f"{m[1]}个乡镇自有中心，{m[2]}个列入跨乡镇中心的服务乡镇，{m[3]}个由其他乡镇的"
                   f"中心覆盖（驾车{m[4]}分钟内）",
     lambda m, lg: m[0]),
    (r"not available: facilities have no county_managed \(县级直管\) attribute",
     lambda m, lg: "无法计算：设施清单没有“县级直管”属性", lambda m, lg: m[0]),
    (r"no embedded_centre \(综合嵌入式社区居家养老服务中心\) in the facility list",
     lambda m, lg: "设施清单中没有综合嵌入式社区居家养老服务中心", lambda m, lg: m[0]),
    (r"high-need villages: rural, (.+) \(assumptions, policy\.yaml\)",
     lambda m, lg: "重点村：农村，" + _criteria_zh(m[1]) + "（本工具的假设，可在政策配置中修改）",
     lambda m, lg: m[0]),
    (r"by count threshold (.+)",
     lambda m, lg: "按人数门槛：" + re.sub(r">= ([\d.]+): ", r"不少于\1人：", m[1]).replace(
         ", ", "，").replace("n/a", "无"),
     lambda m, lg: m[0]),
    (r"not available: no village meets the criteria",
     lambda m, lg: "无法计算：没有符合条件的村", lambda m, lg: m[0]),
    (r"county_home counted as the county-level home for disabled extremely poor elders",
     lambda m, lg: "县级养老机构按县级特困失能人员供养服务设施计", lambda m, lg: m[0]),
    (r"beds of ([\w, ]+)",
     lambda m, lg: "床位：" + "、".join(kind_label(k, lg) for k in m[1].split(", ")),
     lambda m, lg: m[0]),
    (r"target ([\d,]+) is for all of (.+)",
     lambda m, lg: f"目标{m[1]}针对{m[2]}全市", lambda m, lg: m[0]),
    (r"study area holds ([\d.]+)% of (.+)'s ([\d,]+) persons 60\+ \((.*)\): pro-rated to "
     r"([\d,]+) \(rule: elders_60_share\)",
     lambda m, lg: f"研究区60岁及以上老人占{m[2]}的{m[3]}人的{m[1]}%（{m[4]}）：按此比例折算为"
                   f"{m[5]}（规则：按60岁及以上老人占比）",
     lambda m, lg: m[0]),
    (r"not available: facilities give no land_m2 \(land area\)",
     lambda m, lg: "无法计算：设施清单没有用地面积", lambda m, lg: m[0]),
    (r"floor area is not land", lambda m, lg: "建筑面积不能代替用地面积", lambda m, lg: m[0]),
]


def _criteria_zh(text: str) -> str:
    out = []
    for part in text.split(", "):
        if m := re.fullmatch(r">= ([\d.]+) elders 60\+ within ([\d.]+) m", part):
            out.append(f"{m[2]}米内60岁及以上老人不少于{m[1]}人")
        elif m := re.fullmatch(r">= ([\d.]+) elders 60\+", part):
            out.append(f"60岁及以上老人不少于{m[1]}人")
        elif m := re.fullmatch(r"80\+ share >= ([\d.]+%)", part):
            out.append(f"80岁及以上占比不低于{m[1]}")
        elif part == "every village":
            out.append("所有村")
        else:
            out.append(part)
    return "，".join(out)
_COMPILED = [(re.compile(p), zh, en) for p, zh, en in _MESSAGES]


def localize_message(message: str, lang: str = "zh") -> str:
    """A pipeline message (engine note, indicator note, close/merge reason) in ``lang``.

    Messages joined by ``"; "`` are translated part by part. A message of no known form is
    returned unchanged, so nothing is hidden; :func:`is_localized` tells whether it was known.
    """
    check_lang(lang)
    parts = [p for p in str(message).split("; ")]
    out = []
    for part in parts:
        for rx, zh, en in _COMPILED:
            m = rx.fullmatch(part)
            if m is not None:
                out.append((zh if lang == "zh" else en)(m, lang))
                break
        else:
            out.append(part)
    return ("；" if lang == "zh" else "; ").join(out)


def is_localized(message: str) -> bool:
    """Whether every ``"; "``-separated part of ``message`` is of a known form."""
    return all(any(rx.fullmatch(p) for rx, _, _ in _COMPILED) for p in str(message).split("; "))
