"""Shared fixtures. The first thing checked is that ``coverage`` is this project."""

from __future__ import annotations

from pathlib import Path

import pytest

import elder_coverage

elder_coverage.require()

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def sample_path() -> Path:
    """The default Jilin sample in data/processed, built once if missing."""
    from coverage.sample.build import build_sample, sample_dir, sample_is_current

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
