"""Every optimiser states its model and carries a worked example (run by test_doctests.py)."""

import elder_coverage.optimize as optimize_pkg


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
