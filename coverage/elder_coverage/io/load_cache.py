"""A binary copy of a loaded sample, so that the next run skips parsing it.

Loading the province sample at 250 m parses a 105 MB GraphML road graph, imports osmnx
(which pulls in scikit-learn and matplotlib), reprojects it and places 826,000 demand cells
in their county and township, then joins every cell to its nearest road edge: tens of seconds
that give the same result every time the files are the same. The loaded study is pickled
once and read back in a few seconds.

The cache lives in ``<folder's parent>/.cache/`` (``data/processed/.cache/`` for the
samples), not in the sample folder: a sample folder holds only the files its marker lists,
so that a rebuild may replace it. A cache file is used only when its key matches: the size
and modification time of every file in the folder, the source of the loaders, the versions
of the libraries that build the frames and graph, and the Python version. Anything else
rebuilds it. Only files this module wrote are read (they are pickles: never point the cache
at a folder someone else can write to) or deleted. ``ELDER_COVERAGE_NO_CACHE=1`` turns it
off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from elder_coverage.io.atomic import atomic_path

#: Bump when the cached object's layout changes without any loader source changing.
CACHE_FORMAT = 2
#: Environment variable that turns the cache off (any non-empty value but "0").
NO_CACHE_ENV = "ELDER_COVERAGE_NO_CACHE"
_LIBRARIES = ("geopandas", "shapely", "pandas", "numpy", "networkx", "osmnx", "pyproj",
              "pyogrio", "rasterio")
_CACHE_DIR = ".cache"


def cache_enabled() -> bool:
    """False when ``ELDER_COVERAGE_NO_CACHE`` is set (to anything but ``0``)."""
    return os.environ.get(NO_CACHE_ENV, "") in ("", "0")


def _code_fingerprint() -> str:
    # The loaders' own source: a change in how a layer is read must not reuse old frames.
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    # travel.py: the cached study carries its road network's nearest-edge joins.
    for path in sorted([root / "study.py", root / "schema.py", root / "travel.py",
                        *(root / "io").glob("*.py")]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for lib in _LIBRARIES:
        try:
            version = metadata.version(lib)
        except metadata.PackageNotFoundError:
            version = "-"
        h.update(f"{lib}={version};".encode())
    h.update(f"python={sys.version_info[:2]};format={CACHE_FORMAT}".encode())
    return h.hexdigest()


def folder_key(folder: str | os.PathLike[str], **options: Any) -> str:
    """Key of a folder's loaded content: its files (name, size, mtime), the code, options.

    Parameters
    ----------
    folder : path-like
        The input folder (a built sample).
    **options
        Whatever else changes the loaded result (printed with ``repr``).

    Returns
    -------
    str
        A SHA-256 hex digest.
    """
    folder = Path(folder)
    h = hashlib.sha256(_code_fingerprint().encode())
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        st = path.stat()
        h.update(f"{path.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    h.update(repr(sorted(options.items())).encode())
    return h.hexdigest()


def cache_path(folder: str | os.PathLike[str], key: str) -> Path:
    """Where the cache of ``folder`` with this key lives (``../.cache/<name>-<key>.pickle``)."""
    folder = Path(os.path.abspath(folder))
    return folder.parent / _CACHE_DIR / f"{folder.name}-{key[:24]}.pickle"


def read_cached(folder: str | os.PathLike[str], key: str) -> Any | None:
    """The object cached for ``folder`` under ``key``, or None (missing, off or unreadable)."""
    if not cache_enabled():
        return None
    path = cache_path(folder, key)
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a damaged cache is rebuilt, never an error
        return None


def write_cached(folder: str | os.PathLike[str], key: str, obj: Any) -> Path | None:
    """Cache ``obj`` for ``folder`` and remove this folder's older cache files.

    Returns the file written, or None when the cache is off or cannot be written (a
    read-only data folder only costs the next run its load time).
    """
    if not cache_enabled():
        return None
    path = cache_path(folder, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        prefix = path.name[: -len(key[:24]) - len(".pickle")]
        for old in path.parent.glob(f"{prefix}*.pickle"):
            # Only our own names: '<folder name>-<24 hex>.pickle'.
            tail = old.name[len(prefix):-len(".pickle")]
            if old != path and len(tail) == 24 and all(c in "0123456789abcdef" for c in tail):
                old.unlink(missing_ok=True)
    except OSError:
        return None
    return path
