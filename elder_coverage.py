"""Entry point shim that makes sure ``import coverage`` finds elder-coverage.

coverage.py (the test-coverage tool) uses the same import name. If it shadows this
project, every ``coverage.*`` import would fail with a confusing traceback, so the
command line and the test-suite go through :func:`require` first.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


class WrongCoveragePackageError(ImportError):
    """The module imported as ``coverage`` is not elder-coverage."""


def require() -> ModuleType:
    """Import ``coverage`` and check that it is elder-coverage, not coverage.py.

    Returns
    -------
    module
        The elder-coverage package.

    Raises
    ------
    WrongCoveragePackageError
        With the path of the module that was found and how to fix the environment.
    """
    mod = importlib.import_module("coverage")
    if getattr(mod, "__elder_coverage__", False):
        return mod
    where = getattr(mod, "__file__", None) or "<namespace package>"
    version = getattr(mod, "__version__", "unknown version")
    raise WrongCoveragePackageError(
        f"'import coverage' found {where} (version {version}), which is coverage.py, "
        "not elder-coverage. Both packages use the import name 'coverage'. Run elder-coverage "
        "in its own environment: `make demo` creates .venv; activate it with "
        "`. .venv/bin/activate`, or remove coverage.py there with `pip uninstall coverage`."
    )


def main(argv: list[str] | None = None) -> int:
    """Console entry point for ``elder-coverage``."""
    try:
        require()
    except WrongCoveragePackageError as exc:
        print(f"elder-coverage: error: {exc}", file=sys.stderr)
        return 2
    from coverage.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
