"""The policy registry: well-formed, faithful to its documents, and the one source of targets."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import yaml

from elder_coverage import close_merge, indicators, new_sites
from elder_coverage.policy import (
    README_BEGIN,
    README_END,
    PolicyError,
    default_policy_path,
    format_target,
    load_policy,
    parse_policy,
    readme_table,
    write_readme_table,
)

ROOT = Path(__file__).resolve().parents[1]

#: (indicator, year) → (document key, short fragments of its text that state the target).
#: The target value itself must appear in the first fragment in the document's own notation.
EVIDENCE: dict[tuple[str, int | None], tuple[str, tuple[str, ...]]] = {
    ("regional_centre_built_rate", 2025): ("jlsz-2022-11", ("建有率达到60%", "2025年")),
    ("regional_centre_township_coverage", 2029): ("jmf-2025-20", ("覆盖80%的乡镇",)),
    ("township_centre_county_managed", 2029): ("jmf-2025-20", ("直管率达到50%",)),
    ("township_dining_hall", 2025): ("jmf-2025-20", ("2025年底前覆盖全部乡镇",)),
    ("urban_community_dining_hall", 2025): ("jmf-2025-20", ("覆盖全部乡镇、城市社区",)),
    ("embedded_centre_street", 2029): ("jmf-2025-20", ("2029年底前覆盖所有街道",)),
    ("village_courtyard_coverage", 2025): ("jmyz-2023-23", ("养老大院（互助站点）全覆盖",
                                                                "2025年底前，实现农村老年人")),
    ("village_courtyard_coverage", 2029): ("jmf-2025-20", ("的村实现全覆盖",
                                                               "2029年底前，农村老年人")),
    ("county_destitute_care_facility", 2025): ("jlsz-2022-11", ("供养服务设施覆盖率100%",)),
    ("beds_total", 2025): ("jlsz-2022-11", ("床位总量达到3.5万张",)),
    ("nursing_bed_share", 2025): ("jlsz-2022-11", ("护理型床位占比达到55%",)),
    ("nursing_bed_share", 2029): ("jmf-2025-20", ("2029年底前占比达到70%",)),
    ("community_land_per_resident", None): ("jlsz-2022-11", ("人均用地不少于0.12平方米",)),
}
#: How each target value is written in the documents (100 % is often "all" or "full").
NOTATION = {"share": lambda v: (f"{v * 100:g}%",) + (("全部", "所有", "全覆盖") if v == 1 else ()),
            "beds": lambda v: (f"{v / 10000:g}万",), "m2/person": lambda v: (f"{v:g}平方米",)}


def _policy_dir() -> Path:
    # shared/ sits beside the repository, or beside the folder of worktrees.
    for base in (ROOT.parent, ROOT.parents[1]):
        if (base / "shared" / "policy").is_dir():
            return base / "shared" / "policy"
    pytest.skip("reference documents absent: shared/policy/ (the workplace's shared folder)")


def _text(name: str) -> str:
    return re.sub(r"\s+", "", (_policy_dir() / name).read_text(encoding="utf-8"))


def test_every_target_is_stated_in_its_document():
    pol = load_policy()
    raw = yaml.safe_load(default_policy_path().read_text(encoding="utf-8"))
    by_number = {d["number"]: key for key, d in pol.documents.items()}
    seen = set()
    for key, ind in pol.indicators.items():
        for t in ind.targets:
            assert (key, t.year) in EVIDENCE, f"{key} {t.year}: add its evidence to the test"
            seen.add((key, t.year))
            doc, fragments = EVIDENCE[(key, t.year)]
            assert by_number[t.number] == doc, (key, t.year)
            assert t.scope == pol.documents[doc]["scope"], (key, t.year)
            assert any(n in fragments[0] for n in NOTATION[ind.unit](t.value)), (key, t.value)
            text = _text(raw["documents"][doc]["file"])
            for frag in fragments:
                assert frag in text, (key, t.year, frag)
    assert seen == set(EVIDENCE)


def test_document_numbers_and_city_elders_match_the_texts():
    pol = load_policy()
    for doc in pol.documents.values():
        assert doc["number"] in _text(doc["file"])
    city = pol.scopes["city"]
    assert city["elders_60"] == 915000
    assert f"60岁及以上人口{city['elders_60'] / 10000:g}万人" in _text(
        pol.documents["jlsz-2022-11"]["file"])
    # The descriptive quarter-hour figure cites the clause, which sets no number.
    assert pol.indicators["community_15min_share"].reference == "吉民发〔2025〕20号 第6条"
    assert "一刻钟" in _text(pol.documents["jmf-2025-20"]["file"])


def test_registry_is_the_one_source_of_targets_and_assumptions():
    pol = load_policy()
    assert not hasattr(indicators, "DEFAULT_TARGETS")
    closure = pol.assumptions["closure"]
    c = close_merge.Criteria()
    assert (c.built_before, c.min_occupancy, c.require_fire_safety) == (
        closure["built_before"], closure["min_occupancy"], closure["require_fire_safety"])
    assert new_sites.DEFAULT_MANY_ELDERS == pol.assumptions["high_need_village"]["min_elders_60"]
    # Two regional-centre indicators with their own year, scope and source.
    built = pol.indicators["regional_centre_built_rate"].targets
    cover = pol.indicators["regional_centre_township_coverage"].targets
    assert [(t.value, t.year, t.scope) for t in built] == [(0.6, 2025, "city")]
    assert [(t.value, t.year, t.scope) for t in cover] == [(0.8, 2029, "province")]
    # The 0.12 m² standard is land per resident; floor area per elder has no target.
    assert pol.indicators["community_land_per_resident"].targets[0].value == 0.12
    assert pol.indicators["floor_area_per_elder"].targets == ()
    for ind in pol.indicators.values():
        assert ind.label["zh"] and ind.label["en"]
        assert ind.numerator["zh"] and ind.denominator["en"]


def test_code_defaults_of_policy_assumptions_are_read_from_the_registry():
    village = load_policy().assumptions["high_need_village"]
    radius = inspect.signature(indicators.high_need_villages).parameters["concentration_radius_m"]
    assert radius.default == village["concentration_radius_m"] == 1000
    assert new_sites.DEFAULT_MANY_ELDERS == village["min_elders_60"] == 100
    # The closure figures are stated once, in policy.yaml, not again in the docstring.
    closure = load_policy().assumptions["closure"]
    doc = close_merge.Criteria.__doc__
    assert str(closure["built_before"]) not in doc and str(closure["min_occupancy"]) not in doc


def test_readme_table_is_generated_from_the_registry():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    assert text[start:end] + "\n" == readme_table(), \
        "README is stale: python -m elder_coverage.policy --readme README.md"
    table = readme_table()
    # One line per target (two for the courtyard and nursing-bed indicators) or descriptive row.
    pol = load_policy()
    n = sum(max(len(i.targets), 1) for i in pol.indicators.values())
    assert table.count("\n| `") == n
    assert "| 35,000 | 2025 | Jilin City | 吉市政发〔2022〕11号 主要指标 第1项 |" in table


def test_write_readme_table(tmp_path):
    p = tmp_path / "README.md"
    p.write_text(f"# t\n\n{README_BEGIN}\nold\n{README_END}\n\nafter\n", encoding="utf-8")
    assert write_readme_table(p) is True
    body = p.read_text(encoding="utf-8")
    assert body.startswith("# t\n\n" + readme_table()) and body.endswith("\n\nafter\n")
    assert write_readme_table(p) is False
    assert [q.name for q in tmp_path.iterdir()] == ["README.md"]  # no temp file left
    p.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="markers"):
        write_readme_table(p)


def _minimal() -> dict:
    return {
        "documents": {"d": {"number": "X〔2025〕1号", "scope": "province"}},
        "scopes": {"province": {"zh": "省", "en": "P"}, "city": {"zh": "市", "en": "C"}},
        "indicators": {"i": {
            "label": {"zh": "指标", "en": "ind"}, "numerator": {"zh": "a", "en": "a"},
            "denominator": {"zh": "b", "en": "b"}, "unit": "share", "spatial": False,
            "targets": [{"value": 0.5, "year": 2029, "scope": "province", "document": "d",
                         "clause": "第1条"}]}},
    }


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r.update(extra=1), r"unknown key 'extra'"),
    (lambda r: r["indicators"]["i"]["targets"][0].update(document="zz"),
     r"indicators.i.targets\[0\].document: 'zz' is not declared"),
    (lambda r: r["indicators"]["i"]["targets"][0].update(scope="county"),
     r"indicators.i.targets\[0\].scope: 'county'"),
    (lambda r: r["indicators"]["i"]["targets"][0].update(value="half"),
     r"targets\[0\].value: expected a number"),
    (lambda r: r["indicators"]["i"]["targets"][0].update(year="end-2029"),
     r"targets\[0\].year: expected a year"),
    (lambda r: r["indicators"]["i"].update(unit="percent"), r"indicators.i.unit: 'percent'"),
    (lambda r: r["indicators"]["i"].pop("label"), r"indicators.i: missing key 'label'"),
    (lambda r: r["indicators"]["i"].update(label={"zh": "只有中文"}), r"expected \{zh"),
])
def test_malformed_registry_names_the_key(change, message):
    raw = _minimal()
    parse_policy(raw)
    change(raw)
    with pytest.raises(PolicyError, match=message):
        parse_policy(raw, where="p.yaml")


def test_format_target():
    assert format_target(0.6, "share") == "60 %"
    assert format_target(35000, "beds") == "35,000"
    assert format_target(0.12, "m2/person") == "0.12"
