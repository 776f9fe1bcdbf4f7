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
rebuilds it. ``ELDER_COVERAGE_NO_CACHE=1`` turns it off.

A cache file is a pickle, and reading a pickle runs code, so a file is only unpickled when it
carries a keyed BLAKE2b signature made with this user's own key (32 random bytes in
``<user cache folder>/load-cache.key``, created on first use, readable by its owner only).
Someone who can write to the data folder but not to the user's cache folder cannot make the
tool run their file: an unsigned or wrongly signed file is ignored and the sample parsed
again. Without a usable key (a read-only home, a key file others may write) nothing is cached.
Only files with this module's names are deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import secrets
import stat
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from elder_coverage.io.atomic import atomic_path

#: Bump when the cached object's layout changes without any loader source changing.
CACHE_FORMAT = 3
#: Environment variable that turns the cache off (any non-empty value but "0").
NO_CACHE_ENV = "ELDER_COVERAGE_NO_CACHE"
_LIBRARIES = ("geopandas", "shapely", "pandas", "numpy", "networkx", "osmnx", "pyproj",
              "pyogrio", "rasterio")
_CACHE_DIR = ".cache"
#: First bytes of a signed cache file (format and signature scheme).
_MAGIC = b"ECLC2\x00\x00\x00"
_KEY_FILE = "load-cache.key"
_SIG_BYTES = 32


def key_path() -> Path:
    """This user's signing key: ``load-cache.key`` in the per-user cache folder."""
    import platformdirs

    from elder_coverage.sample.paths import APP_NAME

    return Path(platformdirs.user_cache_dir(APP_NAME)) / _KEY_FILE


def _signing_key(create: bool) -> bytes | None:
    """The user's key, created (mode 0600) when ``create``; None when missing or unsafe."""
    path = key_path()
    if create and not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(32))
        except FileExistsError:
            pass  # another process made it first
        except OSError:
            return None
    try:
        st = path.stat()
        # A key others may rewrite, or someone else's, signs nothing.
        if (st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)) or \
                (hasattr(os, "getuid") and st.st_uid != os.getuid()):
            return None
        key = path.read_bytes()
    except OSError:
        return None
    return key if len(key) == 32 else None


def _signature(key: bytes, payload: bytes | memoryview) -> bytes:
    return hashlib.blake2b(payload, key=key, digest_size=_SIG_BYTES).digest()


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
    secret = _signing_key(create=False)
    if secret is None:
        return None
    try:
        data = memoryview(path.read_bytes())
    except OSError:
        return None
    head = len(_MAGIC) + _SIG_BYTES
    if len(data) < head or data[:len(_MAGIC)] != _MAGIC:
        return None
    # Checked before anything is unpickled: only a file this user's key signed is read.
    if not hmac.compare_digest(bytes(data[len(_MAGIC):head]), _signature(secret, data[head:])):
        return None
    try:
        return pickle.loads(data[head:])
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
    secret = _signing_key(create=True)
    if secret is None:
        return None
    try:
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            fh.write(_MAGIC)
            fh.write(_signature(secret, payload))
            fh.write(payload)
        prefix = path.name[: -len(key[:24]) - len(".pickle")]
        for old in path.parent.glob(f"{prefix}*.pickle"):
            # Only our own names: '<folder name>-<24 hex>.pickle'.
            tail = old.name[len(prefix):-len(".pickle")]
            if old != path and len(tail) == 24 and all(c in "0123456789abcdef" for c in tail):
                old.unlink(missing_ok=True)
    except OSError:
        return None
    return path
