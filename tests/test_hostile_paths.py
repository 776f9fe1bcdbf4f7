"""Hostile output paths: a run never deletes, moves or overwrites what it did not write.

Each case runs the command line against a planner's folder (a scenario, data, a notes
sub-folder and a symbolic link), then checks the exit status, the one-line message (the
option and the path named), that every file, folder and link of the planner's is exactly as
before (content hashes, modes, modification times), and that no temporary folder remains.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile import leftovers, refused, run_cli, tree_digest, user_tree

from elder_coverage._errors import OutputPathError, SettingsError
from elder_coverage.cli import MAP_COPY_SIGNATURE, _check_map_copy
from elder_coverage.io.atomic import OUTPUT_MARKER, atomic_dir, check_output_dir
from elder_coverage.runner import _legacy_run_files
from elder_coverage.sample.build import check_resolution
from elder_coverage.scenario import RESERVED_OUTPUT_NAMES

ROOT = Path(__file__).resolve().parents[1]
SUBPROCESS_ENV = {**os.environ, "PYTHONPATH": str(ROOT / "coverage")}
QUICK_SCENARIO = ("name: quick\nstudy_area: {sample: jilin_city_rural, counties: ['220283']}\n"
                  "inputs: {roads: straight_line}\nanalyses: {coverage: {}}\n")


@pytest.fixture
def user(tmp_path: Path) -> Path:
    return user_tree(tmp_path / "user")


def _own_folder(path: Path) -> Path:
    with atomic_dir(path, kind="run") as tmp:
        (tmp / "summary.json").write_text("{}", encoding="utf-8")
        (tmp / "maps").mkdir()
        (tmp / "maps" / "map.html").write_text("<html></html>", encoding="utf-8")
    return path


# --- --out on things that are not the tool's ---------------------------------------------

def test_out_dot_next_to_the_inputs_is_refused(user, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(user)
    refused(capsys, tmp_path, "run", "scenario.yaml", "--out", ".",
             expect=("--out", str(user), "did not write", "Nothing was changed"))


def test_out_on_a_user_folder_is_refused(user, tmp_path, capsys):
    refused(capsys, tmp_path, "run", user / "scenario.yaml", "--out", user / "notes",
             expect=("--out", str(user / "notes"), "did not write"))


def test_out_on_a_user_file_is_refused(user, tmp_path, capsys):
    refused(capsys, tmp_path, "run", user / "scenario.yaml", "--out", user / "facilities.csv",
             expect=("--out", str(user / "facilities.csv"), "existing file"))


def test_out_on_a_symlink_is_refused(user, tmp_path, capsys):
    refused(capsys, tmp_path, "coverage", "--out", user / "latest",
             expect=("--out", str(user / "latest"), "symbolic link"))


def test_out_on_a_symlink_to_a_run_folder_is_refused(user, tmp_path, capsys):
    own = _own_folder(tmp_path / "own")
    (user / "to_run").symlink_to(own)
    refused(capsys, tmp_path, "run", user / "scenario.yaml", "--out", user / "to_run",
             expect=("--out", "symbolic link"))


def test_out_below_a_file_is_refused(user, tmp_path, capsys):
    refused(capsys, tmp_path, "demo", "--out", user / "facilities.csv" / "run",
             expect=("--out", "facilities.csv is a file"))


def test_out_on_the_root_is_refused(user, tmp_path, capsys):
    refused(capsys, tmp_path, "run", user / "scenario.yaml", "--out", "/",
             expect=("--out", "root of the file system"))


def test_out_name_too_long_is_refused(user, tmp_path, capsys):
    refused(capsys, tmp_path, "run", user / "scenario.yaml", "--out", tmp_path / ("运行" * 50),
            expect=("--out", "folder name too long", "300 bytes"))


def test_run_folder_with_a_user_file_added_is_refused(user, tmp_path, capsys):
    own = _own_folder(tmp_path / "own")
    (own / "my_notes.docx").write_bytes(b"planner's notes")
    refused(capsys, tmp_path, "run", user / "scenario.yaml", "--out", own,
             expect=("--out", "did not write or that were changed", "my_notes.docx"))


def test_run_folder_with_a_file_edited_since_is_refused(user, tmp_path, capsys):
    own = _own_folder(tmp_path / "own")
    # Same size as before, so only the content hash can tell.
    (own / "maps" / "map.html").write_text("<HTML></HTML>", encoding="utf-8")
    refused(capsys, tmp_path, "run", user / "scenario.yaml", "--out", own,
             expect=("--out", "maps/map.html"))


def test_run_folder_holding_a_symlink_is_refused(user, tmp_path, capsys):
    own = _own_folder(tmp_path / "own")
    (own / "data").symlink_to(user)
    refused(capsys, tmp_path, "coverage", "--out", own, expect=("--out", "data"))


def test_run_folder_with_an_empty_user_folder_added_is_refused(user, tmp_path, capsys):
    own = _own_folder(tmp_path / "own")
    (own / "maps" / "drafts").mkdir()
    refused(capsys, tmp_path, "run", user / "scenario.yaml", "--out", own,
            expect=("--out", "maps/drafts"))


def test_run_into_a_sample_folder_is_refused(user, tmp_path, capsys):
    with atomic_dir(tmp_path / "sample", kind="sample") as tmp:
        (tmp / "manifest.json").write_text("{}", encoding="utf-8")
    refused(capsys, tmp_path, "run", user / "scenario.yaml", "--out", tmp_path / "sample",
            expect=("--out", "of another kind (not a run)"))


def test_demo_map_over_a_user_file_is_refused_before_the_run(user, tmp_path, capsys):
    (user / "map.html").write_text("<html>the planner's own map</html>", encoding="utf-8")
    refused(capsys, tmp_path, "demo", "--out", tmp_path / "demo", "--map", user / "map.html",
             expect=("--map", str(user / "map.html"), "not written by elder-coverage demo"))


def test_demo_map_onto_a_folder_is_refused(user, tmp_path, capsys):
    (user / "old.html").mkdir()
    refused(capsys, tmp_path, "demo", "--out", tmp_path / "demo", "--map", user / "old.html",
             expect=("--map", "is a folder or a symbolic link"))


def test_demo_map_copy_of_an_earlier_demo_may_be_replaced(tmp_path):
    ours = tmp_path / "demo_map.html"
    ours.write_bytes(b"<html></html>" + MAP_COPY_SIGNATURE)
    _check_map_copy(ours)  # no error: the demo wrote it
    ours.write_bytes(b"<html></html>" + MAP_COPY_SIGNATURE + b"<p>edited</p>")
    with pytest.raises(OutputPathError, match="not written by elder-coverage demo"):
        _check_map_copy(ours)
    # A copy made before the signature existed: identical to the earlier demo's map.
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "map.html").write_bytes(b"<html>old demo</html>")
    ours.write_bytes(b"<html>old demo</html>")
    _check_map_copy(ours, previous=tmp_path / "demo" / "map.html")
    ours.write_bytes(b"<html>the planner's</html>")
    with pytest.raises(OutputPathError, match="not written by elder-coverage demo"):
        _check_map_copy(ours, previous=tmp_path / "demo" / "map.html")


def test_sample_out_on_a_user_folder_is_refused(user, tmp_path, capsys):
    refused(capsys, tmp_path, "sample", "--out", user,
             expect=("--out", str(user), "did not write"))


def test_compare_of_a_user_folder_names_what_is_missing(user, tmp_path, capsys):
    refused(capsys, tmp_path, "compare", user, user / "notes",
             expect=(str(user), "not a run folder", "summary.json"))


def test_compare_of_a_damaged_run_folder_names_the_file(user, tmp_path, capsys):
    fake = tmp_path / "fake_run"
    fake.mkdir()
    (fake / "summary.json").write_text('{"scenario": "x"}', encoding="utf-8")
    (fake / "facilities.csv").write_text("id,status\nF1,open\n", encoding="utf-8")
    (fake / "cells.gpkg").write_bytes(b"not a GeoPackage")
    refused(capsys, tmp_path, "compare", fake, fake,
            expect=(str(fake / "cells.gpkg"), "no readable cells"))


# --- sample --resolution ----------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf"])
def test_sample_resolution_not_a_positive_finite_size(value, user, tmp_path, capsys):
    refused(capsys, tmp_path, "sample", "--resolution", value, "--out", tmp_path / "s",
             expect=("resolution (cell size in metres)", "must be"))


def test_sample_resolution_1m_estimates_memory_and_refuses(user, tmp_path, capsys):
    err = refused(capsys, tmp_path, "sample", "--area", "province", "--resolution", "1",
                   "--out", tmp_path / "s", expect=("resolution 1 m", "GiB of memory"))
    assert re.search(r"Use a cell size of \d+ m or more", err)


def test_resolution_estimate_matches_jilins_extent():
    # Jilin Province spans about 770 km east-west and 600 km north-south, so a 1 km grid of
    # its bounding box has about 0.46 million cells.
    cells = check_resolution(1000.0, "province", memory_bytes=2**40)
    assert 400_000 < cells < 520_000
    assert check_resolution(250.0, memory_bytes=2**33) > 0
    with pytest.raises(SettingsError, match=r"resolution 1 m.*GiB"):
        check_resolution(1.0, "province", memory_bytes=2**40)


def test_module_entry_point_gives_one_line_for_nan(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "elder_coverage.sample", "--resolution", "nan",
                           "--out", str(tmp_path / "s")], capture_output=True, text=True,
                          env=SUBPROCESS_ENV, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "resolution" in proc.stderr and "finite" in proc.stderr
    assert list(tmp_path.iterdir()) == []


# --- interruptions and bugs -------------------------------------------------------------

def test_ctrl_c_is_one_line_and_leaves_nothing(user, tmp_path, capsys, monkeypatch):
    def interrupted(*args):
        assert any(leftovers(tmp_path))  # the run had started writing
        raise KeyboardInterrupt

    monkeypatch.setattr("elder_coverage.stages.load", interrupted)
    # Parent folders the run had to create are removed too.
    refused(capsys, tmp_path, "run", user / "scenario.yaml", "--out",
             tmp_path / "new" / "deeper" / "out", expect=("interrupted (Ctrl-C)",), code=130)


def test_a_swallowed_sigterm_still_stops_the_run(user, tmp_path, capsys, monkeypatch):
    from elder_coverage.io.atomic import request_stop

    # As when a C extension calls the signal handler and then clears its exception.
    monkeypatch.setattr("elder_coverage.stages.load", lambda *a: request_stop())
    refused(capsys, tmp_path, "run", user / "scenario.yaml", "--out", tmp_path / "out",
            expect=("terminated (SIGTERM)",), code=143)
    # The request ends with the command: the next call in this process runs normally.
    from elder_coverage.io.atomic import raise_if_stopped

    raise_if_stopped()


def test_internal_bugs_keep_their_traceback(user, tmp_path, capsys, monkeypatch):
    def bug(*args):
        raise ValueError("an internal bug, not a usage error")

    monkeypatch.setattr("elder_coverage.stages.load", bug)
    before = tree_digest(tmp_path)
    with pytest.raises(ValueError, match="internal bug"):
        run_cli(capsys, "run", user / "scenario.yaml", "--out", tmp_path / "out")
    assert tree_digest(tmp_path) == before and leftovers(tmp_path) == []


def test_unreadable_named_path_is_one_line(user, tmp_path, capsys, monkeypatch):
    def missing(*args):
        raise FileNotFoundError(2, "No such file or directory", "/media/usb/elders.tif")

    monkeypatch.setattr("elder_coverage.stages.load", missing)
    refused(capsys, tmp_path, "run", user / "scenario.yaml", "--out", tmp_path / "out",
             expect=("/media/usb/elders.tif", "No such file"), code=1)


def _start_run(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    scenario = tmp_path / "quick.yaml"
    scenario.write_text(QUICK_SCENARIO, encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "elder_coverage.cli", "run", str(scenario),
                             "--out", str(out)], env=SUBPROCESS_ENV, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".out.*.tmp")):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.05)
    return proc, out


def test_sigterm_leaves_no_hidden_temporary_folder(tmp_path, sample_path):
    proc, out = _start_run(tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "terminated (SIGTERM)" in err and "Traceback" not in err
    assert not out.exists() and leftovers(tmp_path) == []


def test_the_next_run_removes_a_killed_runs_leftovers(tmp_path, sample_path):
    proc, out = _start_run(tmp_path)
    proc.kill()  # SIGKILL: nothing can clean up
    proc.communicate(timeout=60)
    left = list(tmp_path.glob(".out.*.tmp"))
    assert len(left) == 1
    # A look-alike of the planner's and a folder of a live run are not touched.
    (tmp_path / ".out.backup.tmp").mkdir()
    live = tmp_path / ".out.live.tmp"
    live.mkdir()
    (live / ".elder-coverage-partial.json").write_text(json.dumps(
        {"host": socket.gethostname(), "pid": os.getpid()}), encoding="utf-8")
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("new", encoding="utf-8")
    assert not left[0].exists()
    assert (tmp_path / ".out.backup.tmp").is_dir() and live.is_dir()
    assert (out / "a.txt").read_text(encoding="utf-8") == "new"


# --- what may be replaced ---------------------------------------------------------------

def test_own_folder_is_replaced_whole(tmp_path):
    own = _own_folder(tmp_path / "own")
    marker = json.loads((own / OUTPUT_MARKER).read_text(encoding="utf-8"))
    assert marker["tool"] == "elder-coverage" and marker["kind"] == "run"
    assert sorted(marker["files"]) == ["maps/map.html", "summary.json"]
    with atomic_dir(own, kind="run") as tmp:
        (tmp / "summary.json").write_text('{"again": true}', encoding="utf-8")
    # The earlier run's files are gone with it (they were the tool's), nothing else is left.
    assert sorted(p.name for p in own.iterdir()) == [OUTPUT_MARKER, "summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["own"]


def test_empty_folder_made_by_the_planner_is_filled(tmp_path):
    (tmp_path / "out").mkdir()
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "a.txt").write_text("x", encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [OUTPUT_MARKER, "a.txt"]


def test_a_folder_appearing_during_the_run_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(OutputPathError, match="did not write"), atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("x", encoding="utf-8")
        out.mkdir()
        (out / "theirs.txt").write_text("someone else's", encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == ["theirs.txt"]
    assert leftovers(tmp_path) == []


def test_run_folders_from_before_the_marker_are_recognised(tmp_path):
    old = tmp_path / "demo"
    old.mkdir()
    (old / "summary.json").write_text(json.dumps(
        {"elder_coverage_version": "0.3", "outputs": {"map": "m/map.html"}}), encoding="utf-8")
    (old / "run_log.json").write_text("{}", encoding="utf-8")
    (old / "gaps.csv").write_text("a\n", encoding="utf-8")
    (old / "m").mkdir()
    (old / "m" / "map.html").write_text("<html></html>", encoding="utf-8")
    assert check_output_dir(old, recognise=_legacy_run_files) == old
    (old / "budget.xlsx").write_bytes(b"PK")
    with pytest.raises(OutputPathError, match="budget.xlsx"):
        check_output_dir(old, recognise=_legacy_run_files)


def test_a_real_run_lists_what_it_wrote_and_may_replace_it(tmp_path, capsys):
    from test_run_own_data import _make_inputs

    data = tmp_path / "data"
    data.mkdir()
    _make_inputs(data)
    before = tree_digest(data)
    out = tmp_path / "out"
    out.mkdir()  # made empty by the planner: filled
    for _ in range(2):  # the second run replaces the first one's folder
        status, err = run_cli(capsys, "run", data / "scenario.yaml", "--out", out)
        assert status == 0, err
        written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
        marker = json.loads((out / OUTPUT_MARKER).read_text(encoding="utf-8"))
        assert set(marker["files"]) == written - {OUTPUT_MARKER}
        assert written - {OUTPUT_MARKER} <= {*RESERVED_OUTPUT_NAMES, "map.html", "report.html",
                                             "cells.gpkg"}
    assert tree_digest(data) == before and leftovers(tmp_path) == []
