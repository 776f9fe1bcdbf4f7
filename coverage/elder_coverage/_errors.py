"""One family of exceptions, so callers can tell a planner's mistake from a bug in the tool.

Everything the package raises on purpose derives from :class:`ElderCoverageError`. The
:class:`UserError` branch means "fix the input, scenario or option named in the message and
run again"; the command line prints those as one line and exits with status 2. Any other
exception is a bug in the tool and keeps its traceback.

The user-error classes also derive from :class:`ValueError`, so code written against the
earlier ``ValueError``-based classes keeps working.

=======================  ===========================================================
class                    raised as (module)
=======================  ===========================================================
:class:`DataError`       ``io.errors.InputError``, ``travel.GraphError``,
                         ``engine.CoverageInputError``, ``kinds.UnknownKindError``
:class:`SettingsError`   ``scenario.ScenarioError``, ``standards.StandardsError``,
                         ``kinds.KindRegistryError``, ``_validate`` (optimiser options)
:class:`InfeasibleError` :class:`InfeasiblePlanError` (``close_merge``,
                         ``optimize.transport``)
:class:`OutputPathError` ``io.atomic`` (an output path the tool may not write)
:class:`InstallError`    ``maps.offline.OfflineAssetError``
=======================  ===========================================================
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "ElderCoverageError",
    "InfeasibleError",
    "InfeasiblePlanError",
    "InstallError",
    "OutputPathError",
    "SettingsError",
    "Terminated",
    "UserError",
]


class ElderCoverageError(Exception):
    """Base of every exception the package raises on purpose."""


class UserError(ElderCoverageError, ValueError):
    """The planner's input, scenario or options are wrong; the message says which and where."""


class DataError(UserError):
    """An input data file cannot be used; the message names the file, row or field."""


class SettingsError(UserError):
    """A scenario key, service standard or option is missing, unknown or out of range."""


class InfeasibleError(UserError):
    """The request cannot be met with the data given (e.g. closing more centres than exist)."""


class InfeasiblePlanError(InfeasibleError):
    """No close/merge plan satisfies the request; the message says why."""


class OutputPathError(UserError):
    """An output path the tool refuses to write, because it would change something it did
    not create (a user's folder, file or symbolic link) or outputs would overwrite each
    other."""


class InstallError(ElderCoverageError, RuntimeError):
    """The installation is incomplete (e.g. a bundled map asset is missing)."""


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM).

    A ``BaseException``, like ``KeyboardInterrupt``, so that ``except Exception`` in a
    library cannot swallow it and temporary output is removed on the way out.
    """
