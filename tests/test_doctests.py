"""Examples in the README and in docstrings run as written (doctest), so they cannot go stale."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import elder_coverage

ROOT = Path(__file__).resolve().parents[1]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_readme_examples_run():
    res = doctest.testfile(str(ROOT / "README.md"), module_relative=False, optionflags=FLAGS,
                           verbose=False, report=True)
    assert res.attempted >= 10 and res.failed == 0


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(elder_coverage.__path__,
                                                        "elder_coverage.")
                  if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in finder.find(module, name):
        runner.run(test)
    assert runner.failures == 0, f"{name}: {runner.failures} failing docstring example(s)"
