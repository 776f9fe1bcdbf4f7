"""Service standards: packaged defaults, overrides and validation messages."""

from __future__ import annotations

import pytest
import yaml

from elder_coverage.schema import FACILITY_KINDS
from elder_coverage.standards import (
    StandardsError,
    default_standards_path,
    load_standards,
    resolve_standards,
)


def test_defaults_cover_every_kind_with_documented_values():
    std = load_standards()
    assert set(std.kinds) == set(FACILITY_KINDS)
    # The quarter-hour walking circle for community-level services, driving for the others.
    for kind in ("dining_hall", "rural_courtyard", "day_care"):
        ks = std[kind]
        assert (ks.mode, ks.travel, ks.minutes, ks.radius_m) == ("network", "walk", 15.0, 1000.0)
    assert (std["township_centre"].travel, std["township_centre"].minutes) == ("drive", 20.0)
    assert (std["county_home"].travel, std["county_home"].minutes) == ("drive", 30.0)
    assert std.access.metres_per_minute("walk") == pytest.approx(50.0)  # 3.0 km/h
    assert std.access.max_snap_m == 2000.0


def test_packaged_yaml_explains_each_default():
    text = default_standards_path().read_text(encoding="utf-8")
    # Each kind block carries at least one comment line with its reason.
    raw = yaml.safe_load(text)
    for kind in raw["kinds"]:
        block = text.split(f"  {kind}:", 1)[1].split("\n  ", 6)
        assert any(line.strip().startswith("#") for line in block), kind


def test_override_changes_only_the_given_key():
    std = load_standards({"kinds": {"dining_hall": {"minutes": 10}}, "access": {"walk_kmh": 3}})
    assert std["dining_hall"].minutes == 10.0
    assert std["dining_hall"].radius_m == 1000.0
    assert std["day_care"].minutes == 15.0
    assert std.access.metres_per_minute("walk") == pytest.approx(50.0)
    # Kinds may also be given at the top level.
    std2 = load_standards({"county_home": {"mode": "straight_line", "radius_m": 5000}})
    assert (std2["county_home"].mode, std2["county_home"].radius_m) == ("straight_line", 5000.0)
    assert resolve_standards({"day_care": {"minutes": 5}})["day_care"].minutes == 5.0
    assert resolve_standards(std2) is std2


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"kinds": {"hospital": {"minutes": 5}}}, "kinds.hospital: unknown facility kind"),
        ({"dining_hall": {"minute": 5}}, "kinds.dining_hall.minute: unknown key"),
        ({"dining_hall": {"mode": "teleport"}}, "kinds.dining_hall.mode: 'teleport'"),
        ({"dining_hall": {"travel": "bike"}}, "kinds.dining_hall.travel: 'bike'"),
        ({"dining_hall": {"minutes": -1}}, "kinds.dining_hall.minutes: must be a positive"),
        ({"day_care": {"radius_m": 0}}, "kinds.day_care.radius_m: must be a positive"),
        ({"day_care": {"radius_m": "far"}}, "kinds.day_care.radius_m: expected a positive"),
        ({"day_care": {"minutes": True}}, "kinds.day_care.minutes: expected a positive"),
        ({"access": {"max_snap_m": -5}}, "access.max_snap_m: must be a positive"),
        ({"access": {"bus_kmh": 5}}, "access.bus_kmh: unknown key"),
        ({"speed": 3}, "overrides.speed: unknown key"),
    ],
)
def test_bad_override_names_the_key(override, needle):
    with pytest.raises(StandardsError) as err:
        load_standards(override)
    assert needle in str(err.value)


def test_bad_file_names_the_file(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("kinds:\n  dining_hall:\n    mode: network\n    travel: walk\n"
                   "    minutes: 15\n", encoding="utf-8")
    with pytest.raises(StandardsError) as err:
        load_standards(path=bad)
    assert str(bad) in str(err.value) and "kinds.dining_hall.radius_m: missing" in str(err.value)
    with pytest.raises(StandardsError, match="cannot read"):
        load_standards(path=tmp_path / "absent.yaml")


def test_unknown_kind_lookup_is_a_clear_error():
    with pytest.raises(StandardsError, match="'hospital' has no service standard"):
        load_standards()["hospital"]
