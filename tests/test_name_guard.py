"""``import coverage`` may find coverage.py; the entry points must say so clearly."""

import subprocess
import sys
import textwrap

import elder_coverage


def _fake_coverage_py(tmp_path):
    pkg = tmp_path / "coverage"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('__version__ = "7.6.1"\nversion_info = (7, 6, 1)\n')
    return tmp_path


def test_require_accepts_this_project():
    mod = elder_coverage.require()
    assert mod.__elder_coverage__ is True


def test_shadowing_coverage_py_gives_a_clear_error(tmp_path):
    root = _fake_coverage_py(tmp_path)
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(root)!r})
        import elder_coverage
        raise SystemExit(elder_coverage.main(["--help"]))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "coverage.py" in proc.stderr
    assert str(root / "coverage" / "__init__.py") in proc.stderr
    assert "7.6.1" in proc.stderr
    assert "Traceback" not in proc.stderr
