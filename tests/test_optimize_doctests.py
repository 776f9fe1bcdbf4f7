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



def test_every_public_optimiser_has_an_example():
    missing = [name for name in optimize_pkg.__all__
               if callable(obj := getattr(optimize_pkg, name)) and not isinstance(obj, type)
               and ">>>" not in (obj.__doc__ or "")]
    assert missing == []


def test_every_model_states_its_formulation():
    models = ["p_median", "max_coverage", "set_cover", "p_center", "backup_coverage",
              "capacitated_max_coverage"]
    missing = [m for m in models if ".. math::" not in getattr(optimize_pkg, m).__doc__]
    assert missing == []
