"""Where the sample's raw sources are read from and where built samples are written.

Raw sources are package data: ``elder_coverage/data/raw/`` (with ``SOURCES.md``, their
provenance and licences) ships inside the wheel and is read through
:mod:`importlib.resources`, so an installed package needs no repository.

Built samples (``<area>_<resolution>m`` folders) go to the *data folder*, chosen by the first
rule that applies:

1. the folder given to :func:`set_data_dir` in this process;
2. the environment variable ``ELDER_COVERAGE_CACHE`` (when set and not empty);
3. ``data/processed/`` of the source checkout, when the package is imported from one (its
   folder is ``coverage/elder_coverage`` beside the checkout's ``pyproject.toml`` and
   ``data/processed/``): what ``make demo`` and the tests use;
4. the user cache folder, ``platformdirs.user_cache_dir("elder-coverage")``
   (``~/.cache/elder-coverage`` on Linux, ``~/Library/Caches/elder-coverage`` on macOS,
   ``%LOCALAPPDATA%\\elder-coverage\\Cache`` on Windows).

:func:`data_dir_origin` tells which rule gave the folder; :func:`elder_coverage.study.load_sample`
prints both before it builds.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from elder_coverage._errors import InstallError, SettingsError

#: Environment variable naming the folder that built samples are written to and read from.
ENV_VAR = "ELDER_COVERAGE_CACHE"
#: Name of the per-user cache folder (platformdirs application name).
APP_NAME = "elder-coverage"
_PACKAGE_DIR = Path(__file__).resolve().parents[1]

_chosen: Path | None = None


def raw_dir() -> Path:
    """Folder of the packaged raw sources (``elder_coverage/data/raw``).

    Returns
    -------
    Path
        A real folder: GDAL and pandas read its files by path.

    Raises
    ------
    InstallError
        The package is imported from a zip file, or the data files are missing (a wheel
        built without its package data).
    """
    root = resources.files("elder_coverage") / "data" / "raw"
    # Wheels install unzipped; a zip import would hand back a zipfile.Path that GDAL cannot
    # open, so it is refused by name rather than failing later inside a reader.
    if not isinstance(root, Path):
        raise InstallError(f"elder_coverage is imported from an archive ({root}); install it "
                           "as a folder (pip install elder-coverage) to read its raw sources")
    if not (root / "SOURCES.md").is_file():
        raise InstallError(f"the raw sources of elder_coverage are missing from {root}: the "
                           "installation is incomplete; reinstall elder-coverage")
    return root


def raw_file(name: str) -> Path:
    """Path of one packaged raw source, e.g. ``raw_file("jilin_counties.geojson")``.

    Raises
    ------
    InstallError
        The file is not among the packaged sources.
    """
    path = raw_dir() / name
    if not path.is_file():
        known = sorted(p.name for p in raw_dir().iterdir() if p.is_file())
        raise InstallError(f"no raw source {name!r} in {path.parent}; packaged: {known}")
    return path


def checkout_root() -> Path | None:
    """The source checkout the package is imported from, or None for an installed copy.

    A checkout is recognised by its layout alone: the package folder is
    ``<root>/coverage/elder_coverage`` and ``<root>`` holds ``pyproject.toml`` and
    ``data/processed/``. An editable install (``pip install -e .``) imports from the
    checkout and so counts as one.
    """
    root = _PACKAGE_DIR.parents[1]
    if (_PACKAGE_DIR.parent.name == "coverage" and (root / "pyproject.toml").is_file()
            and (root / "data" / "processed").is_dir()):
        return root
    return None


def set_data_dir(path: str | os.PathLike[str] | None) -> Path | None:
    """Write and read built samples in ``path`` for the rest of this process.

    Parameters
    ----------
    path : path-like or None
        A folder (created when a sample is built); None returns to the default rule of
        :func:`data_dir`.

    Returns
    -------
    Path or None
        The folder now in force (absolute), or None after a reset.

    Raises
    ------
    SettingsError
        ``path`` exists and is not a folder.
    """
    global _chosen
    if path is None:
        _chosen = None
        return None
    folder = Path(path).expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise SettingsError(f"data folder {folder} exists and is not a folder")
    _chosen = folder
    return folder


def data_dir_origin() -> tuple[Path, str]:
    """The data folder (:func:`data_dir`) and the rule that chose it, in words.

    Returns
    -------
    tuple of (Path, str)
        The absolute folder and e.g. ``"set by ELDER_COVERAGE_CACHE"``.
    """
    if _chosen is not None:
        return _chosen, "set by elder_coverage.sample.paths.set_data_dir()"
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser().absolute(), f"set by {ENV_VAR}"
    root = checkout_root()
    if root is not None:
        return root / "data" / "processed", "the source checkout's data/processed"
    from platformdirs import user_cache_dir

    return (Path(user_cache_dir(APP_NAME, appauthor=False)),
            f"the user cache folder; set {ENV_VAR} to choose another")


def data_dir() -> Path:
    """Folder of built samples: see the module docstring for the rule."""
    return data_dir_origin()[0]
