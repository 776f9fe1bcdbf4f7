"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# One profile for the whole suite: no per-example deadline, so that results never depend on
# how loaded the 2-core machine is (a fresh-clone run beside another heavy job once failed).
settings.register_profile(
    "elder", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("elder")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def sample_path() -> Path:
    """The default Jilin sample in the data folder (data/processed in a checkout), built once
    if missing or stale."""
    from elder_coverage.sample.build import build_sample, sample_dir, sample_is_current

    path = sample_dir()
    if not sample_is_current(path):
        build_sample(path)
    return path


@pytest.fixture(scope="session")
def shared_jilin() -> Path:
    path = SHARED / "data" / "jilin"
    if not path.exists():
        pytest.skip(f"reference data absent: {path} (the workplace's shared/ folder)")
    return path
