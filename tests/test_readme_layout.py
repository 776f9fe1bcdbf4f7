"""The README's layout section names the stages a run has and every module the package holds."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from elder_coverage import runner, stages

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "coverage" / "elder_coverage"


def _layout() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Layout")
    return text[start:text.index("\n## ", start + 1)]


def _stage_rows() -> list[tuple[str, list[str]]]:
    rows = []
    for line in _layout().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows.append((cells[0].strip("`"), re.findall(r"`([\w.]+)`", cells[2])))
    return rows


def test_stage_table_is_the_runs_stages_in_order():
    assert [name for name, _ in _stage_rows()] == list(runner.STAGES)
    # Each stage is a function a notebook can call.
    funcs = {"map": stages.make_map, "report": stages.make_report, "write": runner.write_run}
    for name in runner.STAGES:
        assert callable(funcs.get(name) or getattr(stages, name)), name


def test_every_module_named_exists_and_every_module_is_named():
    layout = _layout()
    for _, modules in _stage_rows():
        for mod in modules:
            importlib.import_module(f"elder_coverage.{mod}")
    named = set(re.findall(r"`([\w.]+)/?`", layout))
    here = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")} | {
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert here - named == set(), "README layout does not name these modules"
