"""The worked examples in the optimiser docstrings run and give the optima they state."""

import doctest
import importlib
import pkgutil

import pytest

import elder_coverage.optimize as optimize_pkg

MODULES = sorted(
    ["elder_coverage.optimize"]
    + [f"elder_coverage.optimize.{m.name}" for m in pkgutil.iter_modules(optimize_pkg.__path__)]
    + ["elder_coverage._validate"]
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"

