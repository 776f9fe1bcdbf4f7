"""The facility-kind registry (kinds.yaml) and the module-level names derived from it."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from elder_coverage import aggregate, close_merge, indicators, labels, scenario, schema
from elder_coverage._errors import DataError, SettingsError
from elder_coverage.io import facilities as io_facilities
from elder_coverage.io import normalise_kind
from elder_coverage.kinds import (
    FacilityKind,
    KindRegistryError,
    UnknownKindError,
    default_path,
    facility_kinds,
    kind,
    kind_codes,
    kind_from_word,
    kinds_with_role,
    load_kinds,
    match_kind,
    new_site_kinds,
    parse_kinds,
    word_key,
)
from elder_coverage.standards import load_standards

PACKAGE = Path(schema.__file__).resolve().parent
CODES = ("county_home", "township_centre", "rural_courtyard", "dining_hall", "day_care",
         "embedded_centre")


def _raw() -> dict:
    return yaml.safe_load(default_path().read_text(encoding="utf-8"))


def test_registry_loads_with_the_six_kinds_in_table_order():
    ks = facility_kinds()
    assert all(isinstance(k, FacilityKind) for k in ks)
    assert kind_codes() == CODES
    dining = kind("dining_hall")
    assert (dining.label("zh"), dining.label("en")) == ("助老餐厅/老年食堂", "Elder dining hall")
    assert (dining.glyph("zh"), dining.glyph("en"), dining.colour) == ("餐", "D", "#e6550d")
    assert dining.roles == ("community", "community_land")
    assert dining.new_site == ("seats", "villages") and dining.can_be_new_site
    day = kind("day_care")
    assert day.glyph("en") == "DC" and day.roles == ("beds", "community", "community_land")
    assert kind("rural_courtyard").new_site == ("rural_villages",)
    assert not kind("county_home").can_be_new_site and kind("county_home").roles == ("beds",)
    assert kind("embedded_centre").roles == ("community_land",)
    assert kind("township_centre").roles == ("beds", "close_merge")
    with pytest.raises(AttributeError):
        dining.colour = "#000000"  # frozen


def test_old_module_names_are_the_registry_values():
    assert schema.FACILITY_KINDS == CODES
    assert schema.KIND_LABELS == {k.code: {"zh": k.label_zh, "en": k.label_en}
                                  for k in facility_kinds()}
    assert schema.KIND_LABELS["township_centre"] == {
        "zh": "乡镇福利服务中心/区域养老服务中心", "en": "Township welfare centre"}
    assert labels.KIND_GLYPHS == {k.code: {"zh": k.glyph_zh, "en": k.glyph_en}
                                  for k in facility_kinds()}
    assert labels.KIND_COLOURS == {
        "county_home": "#6a3d9a", "township_centre": "#1f78b4", "rural_courtyard": "#33a02c",
        "dining_hall": "#e6550d", "day_care": "#b15928", "embedded_centre": "#e7298a"}
    # Role order is the order notes name the kinds in (indicators' "standards: …" note).
    assert aggregate.BED_KINDS == kinds_with_role("beds") == (
        "county_home", "township_centre", "rural_courtyard", "day_care")
    assert aggregate.COMMUNITY_KINDS == kinds_with_role("community") == (
        "dining_hall", "rural_courtyard", "day_care")
    assert indicators.COMMUNITY_LAND_KINDS == kinds_with_role("community_land") == (
        "dining_hall", "rural_courtyard", "day_care", "embedded_centre")
    assert scenario.NEW_SITE_KINDS == new_site_kinds() == (
        "township_centre", "rural_courtyard", "dining_hall", "day_care")
    assert close_merge.KIND == "township_centre"
    assert scenario.CLOSE_MERGE_KINDS == kinds_with_role("close_merge") == ("township_centre",)
    assert io_facilities.KIND_LOOKUP == load_kinds().lookup
    assert io_facilities.KIND_SYNONYMS == {w: k.code for k in facility_kinds()
                                           for w in k.zh_words}
    assert labels.kind_label("day_care", "en") == "Day-care centre"
    assert labels.kind_glyph("embedded_centre", "zh") == "嵌"


def test_every_word_round_trips_to_its_kind():
    n = 0
    for k in facility_kinds():
        for w in k.words:
            assert kind_from_word(w) is k and normalise_kind(w) == k.code
            assert match_kind(f"  {w.upper()} ") is k  # case and padding do not matter
            n += 1
    # 6 codes + 6 English labels + Chinese labels and their parts + 18 other words.
    assert n == 42 == len(load_kinds().lookup)
    assert kind_from_word("Day Care").code == "day_care"
    assert kind_from_word("敬老院").code == "township_centre"
    assert kind_from_word("农村幸福院").code == "rural_courtyard"
    assert word_key(" Day-Care_centre ") == "daycarecentre"


def test_unknown_word_names_every_accepted_word():
    with pytest.raises(UnknownKindError) as info:
        kind_from_word("养老院")
    msg = str(info.value)
    assert isinstance(info.value, DataError)
    assert msg.startswith("unknown kind '养老院'; allowed kinds: county_home (县级养老机构/")
    for k in facility_kinds():
        assert k.code in msg and k.label_en in msg
        for w in k.zh_words:
            assert w in msg
    assert match_kind("养老院") is None and normalise_kind("养老院") is None
    with pytest.raises(UnknownKindError, match=r"^unknown kind 'nursing_home'; allowed kinds"):
        kind("nursing_home")


def test_colours_glyphs_and_labels_are_one_per_kind():
    ks = facility_kinds()
    for attr in ("colour", "glyph_zh", "glyph_en", "label_zh", "label_en"):
        values = [getattr(k, attr) for k in ks]
        assert len(set(values)) == len(values), attr


def test_standards_yaml_names_the_registry_kinds_in_order():
    raw = yaml.safe_load((PACKAGE / "standards.yaml").read_text(encoding="utf-8"))
    assert tuple(raw["kinds"]) == kind_codes()
    assert tuple(load_standards().kinds) == kind_codes()


def test_policy_and_national_sample_name_registry_kinds():
    from elder_coverage.national.sample import DENSITY
    from elder_coverage.policy import assumption

    assert set(DENSITY) <= set(kind_codes())
    assert kind(assumption("regional_centre", "kind")).code == "township_centre"


def test_no_kind_colour_or_label_is_written_out_in_python_code():
    # The registry is the one place: a copy in a module would drift from it.
    sources = {p: p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")}
    for k in facility_kinds():
        for literal in (f'"{k.colour}"', f'"{k.label_en}"', f'"{k.label_zh}"'):
            found = [p.name for p, text in sources.items() if literal in text]
            assert found == [], (literal, found)


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["kinds"]["day_care"].update(colour="#e6550d"),
     r"kinds\.dining_hall\.colour: '#e6550d' is also|kinds\.day_care\.colour: '#e6550d' is also"),
    (lambda r: r["kinds"]["day_care"].update(glyph={"zh": "餐", "en": "X"}),
     r"kinds\.day_care\.glyph\.zh: '餐' is also dining_hall's"),
    (lambda r: r["kinds"]["day_care"]["words"].append("老年食堂"),
     r"kinds\.day_care: word '老年食堂' also names dining_hall"),
    (lambda r: r["kinds"]["day_care"]["words"].append("日间照料中心"),
     r"kinds\.day_care\.words: '日间照料中心' is already accepted"),
    (lambda r: r["roles"]["beds"].append("nursing_home"),
     r"roles\.beds: unknown kind 'nursing_home'"),
    (lambda r: r["kinds"]["day_care"].update(new_site=["towns"]),
     r"kinds\.day_care\.new_site: 'towns' is not one of"),
    (lambda r: r["kinds"]["day_care"].update(colour="brown"),
     r"kinds\.day_care\.colour: expected #rrggbb"),
    (lambda r: r["kinds"]["day_care"].update(label={"zh": "日间照料中心"}),
     r"kinds\.day_care\.label: expected \{zh: …, en: …\}"),
    (lambda r: r["kinds"].update({"Day Care": copy.deepcopy(r["kinds"]["day_care"])}),
     r"kinds\.Day Care: a code is lower-case"),
    (lambda r: r["kinds"]["day_care"].update(standard="day_care"),
     r"kinds\.day_care\.standard: unknown key"),
    (lambda r: r["roles"].pop("community"), r"roles: must define exactly"),
])
def test_a_malformed_registry_is_refused_naming_the_key(change, message):
    raw = _raw()
    change(raw)
    with pytest.raises(KindRegistryError, match=message) as info:
        parse_kinds(raw)
    assert isinstance(info.value, SettingsError)


def test_the_packaged_file_parses_to_the_loaded_registry():
    assert parse_kinds(_raw()) == load_kinds()
    assert re.fullmatch(r".*kinds\.yaml", str(default_path()))


def test_new_sites_of_a_village_only_kind_refuse_seat_candidates():
    with pytest.raises(scenario.ScenarioError,
                       match=r"new rural_courtyard sites are chosen among villages only"):
        scenario.parse_scenario({"name": "a", "analyses": {"new_sites": {
            "kind": "rural_courtyard", "candidates": "seats"}}})
    ok = scenario.parse_scenario({"name": "a", "analyses": {"new_sites": {
        "kind": "dining_hall", "candidates": "seats"}}})
    assert ok.analyses["new_sites"]["candidates"] == "seats"
    with pytest.raises(scenario.ScenarioError, match=r"must be one of township_centre, "
                                                      r"rural_courtyard, dining_hall, day_care"):
        scenario.parse_scenario({"name": "a", "analyses": {"new_sites": {"kind": "county_home"}}})


def test_new_site_candidates_follow_the_registry_places():
    import geopandas as gpd
    from shapely.geometry import Point

    from elder_coverage.new_sites import candidate_sites

    crs = 32651
    seats = gpd.GeoDataFrame({"code": ["T1"], "name": ["甲镇"], "county_code": ["C"]},
                             geometry=[Point(0, 0)], crs=crs)
    villages = gpd.GeoDataFrame({"code": ["V1", "V2"], "name": ["甲村", "乙社区"],
                                 "county_code": ["C", "C"], "township_code": ["T1", "T1"],
                                 "is_urban": [False, True]},
                                geometry=[Point(500, 0), Point(0, 500)], crs=crs)
    none = gpd.GeoDataFrame({"kind": [], "village_code": [], "township_code": []},
                            geometry=[], crs=crs)
    yard = candidate_sites("rural_courtyard", none, seats, villages, "both")
    hall = candidate_sites("dining_hall", none, seats, villages, "both")
    assert yard["source"].tolist() == ["V1"]  # rural villages only: no seat, no 社区
    assert hall["source"].tolist() == ["T1", "V1", "V2"]
