"""Helpers of the hostile-input tests: fingerprint a user's folder, find leftovers, run the CLI."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from elder_coverage.cli import main


def tree_digest(root: Path) -> dict[str, str]:
    """Every entry below ``root``: file content hashes and modes, link targets, folders.

    Two equal digests mean nothing was added, removed, renamed, changed or re-moded.
    """
    out = {}
    for base, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            p = Path(base) / name
            rel = p.relative_to(root).as_posix()
            st = p.lstat()
            if p.is_symlink():
                out[rel] = f"link→{os.readlink(p)}"
            elif p.is_dir():
                out[rel] = f"dir {oct(st.st_mode)}"
            else:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                out[rel] = f"file {oct(st.st_mode)} {st.st_mtime_ns} {digest}"
    return out


def leftovers(root: Path) -> list[str]:
    """Temporary or half-written entries a run left anywhere below ``root``."""
    found = []
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            if name.startswith(".") and (name.endswith((".tmp", ".old")) or ".tmp." in name
                                         or name == ".elder-coverage-partial.json"):
                found.append((Path(base) / name).relative_to(root).as_posix())
    return sorted(found)


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    """Exit status and standard error of ``elder-coverage ARGV`` run in this process."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def user_tree(root: Path) -> Path:
    """A planner's working folder: a scenario, data files, a notes sub-folder, a link."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "scenario.yaml").write_text("name: mine\nanalyses: {coverage: {}}\n",
                                        encoding="utf-8")
    (root / "facilities.csv").write_text("编号,名称\nF1,敬老院\n", encoding="utf-8")
    (root / "notes").mkdir()
    (root / "notes" / "plan.txt").write_text("do not delete\n", encoding="utf-8")
    (root / "latest").symlink_to("notes")
    return root


def refused(capsys, tmp_path: Path, *argv, expect: tuple[str, ...], code: int = 2) -> str:
    """Run the CLI, expect a one-line refusal, and check ``tmp_path`` is exactly as before.

    ``expect``: texts the message must contain (the option or key and the path).
    """
    before = tree_digest(tmp_path)
    status, err = run_cli(capsys, *argv)
    assert status == code, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for text in expect:
        assert text in err, (text, err)
    assert tree_digest(tmp_path) == before, "the planner's files were changed"
    assert leftovers(tmp_path) == []
    return err
