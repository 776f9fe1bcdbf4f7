"""Writers that never leave a half-written file behind.

Each writer renders into a temporary file in the destination's own folder (same file
system, so :func:`os.replace` is an atomic rename) and replaces the target only once the
write succeeded. A crash or exception leaves the old file, or none, never a truncated one.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from elder_coverage._errors import OutputPathError, Terminated

PathLike = str | os.PathLike[str]


def _temp_sibling(path: Path) -> Path:
    # Keep the real suffix last: GDAL and osmnx pick drivers from it.
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


def _discard(tmp: Path) -> None:
    # GeoPackage/SQLite may leave -journal/-wal/-shm companions beside a failed file.
    for p in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-journal", "-wal", "-shm"))):
        p.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: PathLike, *, copy_existing: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` if the block succeeds.

    Parameters
    ----------
    path : str or PathLike
        Final destination. Its folder is created if missing.
    copy_existing : bool, default False
        Start the temporary file as a copy of the current ``path`` (for formats such as
        GeoPackage where one layer is replaced inside a multi-layer file).

    Examples
    --------
    >>> with atomic_path("out.tif") as tmp:          # doctest: +SKIP
    ...     write_something(tmp)
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(final)
    try:
        if copy_existing and final.exists():
            shutil.copy2(final, tmp)
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"writer produced no file for {final}")
        os.replace(tmp, final)
    finally:
        _discard(tmp)


#: Written into every output folder; lists the files of the folder as written (size and
#: SHA-256, not times, so that identical runs stay byte-identical), so a later run can tell
#: its own folder from a user's.
OUTPUT_MARKER = ".elder-coverage-output.json"
# Inside a temporary folder while it is being written: the writer's host and process id,
# so a later run can remove the leftovers of a killed one (SIGKILL, power loss).
_PARTIAL_MARKER = ".elder-coverage-partial.json"
_TOOL = "elder-coverage"
# File systems allow 255 bytes per name; ".<name>.<8 hex>.tmp" adds 15.
_MAX_NAME_BYTES = 255 - 15

Recognise = Callable[[Path], "set[str] | None"]

# Set by a signal handler: a C extension that calls back into Python may swallow the
# exception the handler raised, so the request is also remembered and checked before an
# output folder is committed.
_STOP = threading.Event()


def request_stop(stop: bool = True) -> None:
    """Ask running writers to stop (``stop=False`` clears the request)."""
    if stop:
        _STOP.set()
    else:
        _STOP.clear()


def raise_if_stopped() -> None:
    """Raise :class:`~elder_coverage._errors.Terminated` if a stop was requested."""
    if _STOP.is_set():
        raise Terminated


def _walk_files(folder: Path) -> tuple[dict[str, os.stat_result], list[str], list[str]]:
    """Regular files below ``folder`` by POSIX relative path, its sub-folders, and any links."""
    files: dict[str, os.stat_result] = {}
    links: list[str] = []
    subdirs: list[str] = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        base = Path(root)
        for name in dirs + names:
            p = base / name
            rel = p.relative_to(folder).as_posix()
            if p.is_symlink():
                links.append(rel)
            elif name in names:
                files[rel] = p.lstat()
            else:
                subdirs.append(rel)
    return files, links, subdirs


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _marked_files(folder: Path, kind: str | None = None) -> dict[str, list] | None:
    """The files listed in ``folder``'s marker (of ``kind``, if given), or None."""
    try:
        info = json.loads((folder / OUTPUT_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("tool") != _TOOL:
        return None
    if kind is not None and info.get("kind") != kind:
        return None
    files = info.get("files")
    return files if isinstance(files, dict) else None


def _refuse(final: Path, why: str, *, inside: bool = False) -> OutputPathError:
    new = final / "elder-coverage-run" if inside else final.with_name(f"{final.name}-run")
    return OutputPathError(
        f"{final}: {why}. elder-coverage only replaces a folder it wrote itself and never "
        f"deletes or overwrites anything else; choose a new folder (e.g. {new}) or move "
        f"this one away yourself. Nothing was changed.")


def check_output_dir(
    path: PathLike, *, kind: str | None = None, recognise: Recognise | None = None
) -> Path:
    """Check that a run may write the output folder ``path``; return it as an absolute path.

    Allowed: a path that does not exist, an empty folder, or a folder this package wrote
    earlier and nobody has changed since (every file is listed in its
    :data:`OUTPUT_MARKER` with the same size and SHA-256).

    Parameters
    ----------
    path : str or PathLike
        The output folder asked for.
    kind : str, optional
        Only a folder whose marker records this kind ("run", "sample") may be replaced:
        a run never replaces a sample, nor the reverse.
    recognise : callable, optional
        ``recognise(folder) -> set of relative file names or None``: accepts folders written
        by earlier versions, before the marker existed (e.g. a sample's ``manifest.json``).

    Raises
    ------
    OutputPathError
        For a symbolic link, a file, the file-system root, a user's folder, or one of this
        package's folders holding files it did not write (they are named).
    """
    final = Path(os.path.abspath(path))
    if final.name in ("", ".", ".."):
        raise _refuse(final, "is the root of the file system", inside=True)
    if len(final.name.encode("utf-8")) > _MAX_NAME_BYTES:
        raise OutputPathError(f"{final.name[:40]}…: folder name too long "
                              f"({len(final.name.encode('utf-8'))} bytes in UTF-8; at most "
                              f"{_MAX_NAME_BYTES}, as the temporary name beside it needs 15 "
                              "more). Nothing was changed.")
    if final.is_symlink():
        raise _refuse(final, "is a symbolic link")
    if not final.exists():
        for parent in final.parents:
            if parent.exists() and not parent.is_dir():
                raise _refuse(final, f"{parent} is a file, not a folder")
        return final
    if not final.is_dir():
        raise _refuse(final, "is an existing file, not a folder")
    if next(final.iterdir(), None) is None:
        return final
    marked = _marked_files(final, kind)
    if marked is None and recognise is not None:
        legacy = recognise(final)
        marked = None if legacy is None else {name: None for name in legacy}
    if marked is None:
        other = _marked_files(final) is not None
        raise _refuse(final, f"is an elder-coverage folder of another kind (not a {kind})"
                      if other else f"is an existing folder that elder-coverage did not "
                                    f"write (no {OUTPUT_MARKER} in it)", inside=True)
    # Walked only once the folder is known to be ours: `--out ~` is refused at once.
    files, links, subdirs = _walk_files(final)
    # A sub-folder holding none of the run's files (even an empty one) is someone else's.
    foreign = sorted(links) + [d for d in subdirs
                               if not any(m.startswith(f"{d}/") for m in marked)]
    for rel, st in files.items():
        if rel in (OUTPUT_MARKER, _PARTIAL_MARKER):
            continue
        was = marked.get(rel, False)
        if was is False or (was is not None and (
                not isinstance(was, list) or len(was) != 2 or st.st_size != was[0]
                or _sha256(final / rel) != was[1])):
            foreign.append(rel)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" … ({len(foreign) - 5} more)" if len(foreign) > 5
                                          else "")
        raise _refuse(final, f"holds files elder-coverage did not write or that were changed "
                             f"since ({shown})")
    return final


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(path: PathLike) -> list[Path]:
    """Remove the temporary folders that killed runs left beside the output folder ``path``.

    Only folders this package made for ``path`` are touched: ``.<name>.<hex>.tmp`` holding
    a partial marker whose process (on this host) is gone, and ``.<name>.<hex>.old`` holding
    an output marker (a replaced run whose removal was interrupted).

    Returns
    -------
    list of Path
        The folders removed.
    """
    final = Path(os.path.abspath(path))
    removed = []
    if not final.parent.is_dir():
        return removed
    for p in final.parent.glob(f".{glob.escape(final.name)}.*"):
        if p.is_symlink() or not p.is_dir():
            continue
        if p.suffix == ".tmp":
            try:
                who = json.loads((p / _PARTIAL_MARKER).read_text(encoding="utf-8"))
                stale = who["host"] == socket.gethostname() and not _pid_alive(int(who["pid"]))
            except (OSError, ValueError, KeyError, TypeError):
                stale = False
        else:
            stale = p.suffix == ".old" and _marked_files(p) is not None
        if stale:
            shutil.rmtree(p)
            removed.append(p)
    return removed


def _make_parents(folder: Path) -> list[Path]:
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for p in reversed(missing):
        p.mkdir()
    return missing


@contextmanager
def atomic_dir(
    path: PathLike, *, kind: str = "output", recognise: Recognise | None = None
) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; it replaces ``path`` only if the block succeeds.

    For whole output folders (a scenario run, a sample build): a run that fails or is
    interrupted leaves nothing behind (not even the parent folders it created), and an
    earlier successful run in ``path`` stays as it was. ``path`` is checked first with
    :func:`check_output_dir`: a user's folder, a file or a symbolic link is never replaced.
    The finished folder holds :data:`OUTPUT_MARKER` listing what was written.

    Parameters
    ----------
    path : str or PathLike
        The output folder.
    kind : str, default "output"
        Recorded in the marker ("run", "sample").
    recognise : callable, optional
        Passed to :func:`check_output_dir`.

    Raises
    ------
    OutputPathError
        Before anything is written, when ``path`` may not be replaced.
    """
    final = check_output_dir(path, kind=kind, recognise=recognise)
    remove_leftovers(final)
    created = _make_parents(final.parent)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.mkdir()
        (tmp / _PARTIAL_MARKER).write_text(
            json.dumps({"host": socket.gethostname(), "pid": os.getpid()}), encoding="utf-8")
        yield tmp
        raise_if_stopped()
        files, _, _ = _walk_files(tmp)
        marker = {"tool": _TOOL, "kind": kind, "files": {
            rel: [st.st_size, _sha256(tmp / rel)] for rel, st in sorted(files.items())
            if rel != _PARTIAL_MARKER}}
        (tmp / OUTPUT_MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")
        # Checked again: the user may have put something there while the run was working.
        check_output_dir(final, kind=kind, recognise=recognise)
        if final.exists() and any(final.iterdir()):
            old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(final, old)
            try:
                os.replace(tmp, final)
            except BaseException:
                os.replace(old, final)
                raise
            (final / _PARTIAL_MARKER).unlink()
            shutil.rmtree(old)
        else:
            # An empty folder is replaced by the rename itself.
            os.replace(tmp, final)
            (final / _PARTIAL_MARKER).unlink()
    except BaseException:
        if tmp.exists():
            shutil.rmtree(tmp)
        for p in created:
            with contextlib.suppress(OSError):
                p.rmdir()
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


@contextmanager
def atomic_open(path: PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``path`` when the block exits cleanly.

    ``mode`` is ``"w"`` (text) or ``"wb"`` (binary).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": ""}
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def write_csv(df: pd.DataFrame, path: PathLike, *, index: bool = False, **kwargs: Any) -> Path:
    """Write ``df`` as UTF-8 CSV atomically (``kwargs`` go to :meth:`DataFrame.to_csv`).

    A GeoDataFrame's geometry is written as WKT.
    """
    with atomic_open(path, "w", encoding=kwargs.pop("encoding", "utf-8")) as fh:
        pd.DataFrame(df).to_csv(fh, index=index, **kwargs)
    return Path(path)


def write_json(obj: Any, path: PathLike, *, indent: int = 2) -> Path:
    """Write a JSON document atomically; non-ASCII (Chinese) text is kept readable."""
    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, os.PathLike):
            return os.fspath(o)
        raise TypeError(f"{type(o).__name__} is not JSON serialisable")

    with atomic_open(path, "w") as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=indent, default=default)
        fh.write("\n")
    return Path(path)


def write_gpkg(gdf: gpd.GeoDataFrame, path: PathLike, *, layer: str | None = None) -> Path:
    """Write ``gdf`` as a GeoPackage layer atomically.

    If ``path`` exists, its other layers are kept and ``layer`` (default: the file stem) is
    replaced.
    """
    layer = layer or Path(path).stem
    with atomic_path(path, copy_existing=True) as tmp:
        gdf.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio")
    return Path(path)


def write_geojson(gdf: gpd.GeoDataFrame, path: PathLike) -> Path:
    """Write ``gdf`` as GeoJSON atomically (GeoJSON is WGS84 by specification, so reprojected)."""
    with atomic_path(path) as tmp:
        gdf.to_crs(4326).to_file(tmp, driver="GeoJSON", engine="pyogrio")
    return Path(path)


def write_geotiff(
    array: np.ndarray,
    path: PathLike,
    *,
    transform: Any,
    crs: Any,
    nodata: float | None = None,
) -> Path:
    """Write a 2-D array (or a ``(bands, rows, cols)`` stack) as a compressed GeoTIFF atomically.

    Parameters
    ----------
    array : ndarray
        Values, e.g. persons per cell.
    transform : affine.Affine
        Pixel-to-CRS transform.
    crs
        Anything rasterio accepts.
    nodata : float, optional
        Value marking empty cells.
    """
    import rasterio

    data = np.asarray(array)
    stack = data[np.newaxis] if data.ndim == 2 else data
    if stack.ndim != 3:
        raise ValueError(f"array must be 2-D or 3-D, got shape {data.shape}")
    profile = {
        "driver": "GTiff",
        "height": stack.shape[1],
        "width": stack.shape[2],
        "count": stack.shape[0],
        "dtype": stack.dtype,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "compress": "deflate",
    }
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(stack)
    return Path(path)


def write_graphml(G: nx.MultiDiGraph, path: PathLike) -> Path:
    """Save an osmnx graph as GraphML atomically (via :func:`osmnx.save_graphml`)."""
    import osmnx as ox

    with atomic_path(path) as tmp:
        ox.save_graphml(G, filepath=tmp)
    return Path(path)
