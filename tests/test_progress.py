"""Progress: one line per stage when output is not a terminal, a bar otherwise."""

from __future__ import annotations

import io

import pytest

from elder_coverage.progress import StageProgress, progress_mode


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_when_not_a_terminal(monkeypatch):
    monkeypatch.delenv("ELDER_COVERAGE_PROGRESS", raising=False)
    buf = io.StringIO()
    assert progress_mode(buf) == "lines"
    with StageProgress("elder-coverage run", 3, stream=buf) as p:
        for name in ("load", "coverage", "tables"):
            p.stage(name)
    lines = buf.getvalue().splitlines()
    assert lines[0] == "elder-coverage run [1/3] load …"
    assert lines[1].startswith("elder-coverage run [2/3] coverage … (")
    assert lines[2].startswith("elder-coverage run [3/3] tables … (")
    assert lines[3].startswith("elder-coverage run: done in ") and len(lines) == 4


def test_failure_leaves_the_stage_that_failed_as_last_line():
    buf = io.StringIO()
    with pytest.raises(RuntimeError), StageProgress("sample", 2, stream=buf, mode="lines") as p:
        p.stage("roads")
        raise RuntimeError("boom")
    assert buf.getvalue().splitlines() == ["sample [1/2] roads …"]


def test_bar_on_a_terminal_and_env_override(monkeypatch):
    monkeypatch.delenv("ELDER_COVERAGE_PROGRESS", raising=False)
    tty = _Tty()
    assert progress_mode(tty) == "bar"
    with StageProgress("run", 2, stream=tty) as p:
        p.stage("a")
        p.stage("b")
        assert p._bar.n == 1
    assert "run: b" in tty.getvalue()
    monkeypatch.setenv("ELDER_COVERAGE_PROGRESS", "off")
    assert progress_mode(tty) == "off"
    quiet = io.StringIO()
    with StageProgress("run", 1, stream=quiet) as p:
        p.stage("a")
    assert quiet.getvalue() == ""
