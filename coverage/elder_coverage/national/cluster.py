"""Run partitions as dask.distributed tasks: a LocalCluster by default, any scheduler by address.

One task per partition (county). The facility table is sent to every worker once
(``scatter(broadcast=True)``); each task builds or receives its cells, covers them against
the facilities in its halo (:func:`~elder_coverage.national.partition.run_partition`) and
returns a small summary, writing its per-cell results to its own GeoParquet file. A worker
that dies is replaced by its nanny and its tasks rerun elsewhere (dask's own recovery,
bounded by ``retries`` for tasks that raise); a partition that still fails is reported by
code and name in :attr:`RunOutcome.failed` and never counted silently in the totals.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd

from elder_coverage.national.partition import PartitionResult, run_partition
from elder_coverage.standards import Standards, resolve_standards


@dataclass(frozen=True)
class Task:
    """One partition to run: ``cells`` is a frame or a no-argument builder (see run_partition)."""

    key: str
    name: str
    cells: Any
    write_to: str | None = None


@dataclass
class RunOutcome:
    """Results of a partitioned run.

    Attributes
    ----------
    results : list of PartitionResult
        One per partition that finished, in task order.
    failed : list of tuple (key, name, message)
        Partitions that failed after dask's retries.
    seconds : float
        Wall time of the whole run.
    workers : int
        Workers that took part.
    """

    results: list[PartitionResult] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 0

    def totals(self) -> pd.DataFrame:
        """One row per finished partition: elders, covered per kind, cells, time, memory."""
        rows = []
        for r in self.results:
            row = {"code": r.key, "name": r.name, "cells": r.n_cells,
                   "halo_facilities": r.n_halo_facilities, "fallback_cells": r.n_fallback_cells,
                   "seconds": round(r.seconds, 3), "worker_peak_rss_mb": round(r.peak_rss_mb, 1)}
            row.update(r.elders)
            row.update({f"{k}_covered": v for k, v in r.covered.items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def failure_message(self) -> str:
        """A sentence naming every failed partition, or an empty string."""
        if not self.failed:
            return ""
        parts = [f"{k} {n}: {m}" for k, n, m in self.failed]
        return f"{len(self.failed)} partition(s) failed: " + "; ".join(parts)


def make_client(scheduler: str = "local", *, workers: int = 2,
                memory_limit: str | float = "4GiB", threads_per_worker: int = 1):
    """A dask client: ``"local"`` starts a LocalCluster, anything else is a scheduler address.

    Parameters
    ----------
    scheduler : str
        ``"local"`` or an address such as ``tcp://host:8786`` (a cluster started with
        dask-jobqueue, dask-kubernetes or ``dask scheduler`` / ``dask worker``).
    workers : int
        Worker processes of the LocalCluster.
    memory_limit : str or float
        Memory bound per worker of the LocalCluster (dask pauses, spills, then restarts a
        worker above it).
    threads_per_worker : int
        Threads per worker; 1 keeps one county per process at a time.
    """
    from distributed import Client

    if scheduler == "local":
        # The client owns this cluster: closing the client (or leaving its `with` block)
        # stops the workers too.
        return Client(n_workers=workers, threads_per_worker=threads_per_worker,
                      processes=True, memory_limit=memory_limit, dashboard_address=None)
    return Client(scheduler)


def run_tasks(
    tasks: Sequence[Task],
    facilities: gpd.GeoDataFrame,
    *,
    client,
    standards: Standards | dict | None = None,
    kinds: list[str] | None = None,
    halo_m: float | None = None,
    keep_cells: bool = False,
    retries: int = 2,
    progress: Callable[[str], None] | None = None,
    submit: Callable[..., Any] | None = None,
) -> RunOutcome:
    """Run partitions on a dask client and gather their summaries.

    Parameters
    ----------
    tasks : sequence of Task
        Partitions to run.
    facilities : GeoDataFrame
        All facilities, broadcast once to every worker.
    client : distributed.Client
        From :func:`make_client`.
    standards, kinds, halo_m, keep_cells
        As :func:`~elder_coverage.national.partition.run_partition`.
    retries : int
        Reruns of a task that raises (a task whose worker dies is rerun by dask anyway).
    progress : callable, optional
        Called with one line per finished partition.
    submit : callable, optional
        The function each task runs (default ``run_partition``); tests pass a wrapper.

    Returns
    -------
    RunOutcome
    """
    from distributed import as_completed

    std = resolve_standards(standards)
    fn = submit or run_partition
    t0 = time.perf_counter()
    fac = client.scatter(facilities, broadcast=True)
    futures: dict[str, tuple[Any, Task]] = {}
    resubmitted: dict[str, int] = {}

    def start(t: Task) -> Any:
        n = resubmitted.get(t.key, 0)
        fut = client.submit(fn, t.key, t.name, t.cells, fac, standards=std, kinds=kinds,
                            halo_m=halo_m, keep_cells=keep_cells, write_to=t.write_to,
                            retries=retries, pure=False,
                            key=f"partition-{t.key}" + (f"-again{n}" if n else ""))
        futures[fut.key] = (fut, t)
        return fut

    done: dict[str, PartitionResult] = {}
    failed: list[tuple[str, str, str]] = []
    pending = as_completed([start(t) for t in tasks])
    for fut in pending:
        _, t = futures[fut.key]
        if fut.status == "error":
            exc = fut.exception()
            failed.append((t.key, t.name, f"{type(exc).__name__}: {exc}"))
            if progress:
                progress(f"{len(done) + len(failed)}/{len(tasks)} {t.key} {t.name}: FAILED {exc}")
            fut.release()
            continue
        try:
            res = fut.result() if fut.status == "finished" else None
        except Exception:  # noqa: BLE001 - the result was lost with its worker, not an error
            res = None
        fut.release()
        if res is None:
            # Finished, then lost (or cancelled) with a worker that died before the result
            # was fetched: not the task's fault, so it runs again, a bounded number of times.
            resubmitted[t.key] = resubmitted.get(t.key, 0) + 1
            if resubmitted[t.key] <= retries + 1:
                pending.add(start(t))
            else:
                failed.append((t.key, t.name, f"result lost with its worker "
                                              f"{resubmitted[t.key]} times"))
            continue
        done[t.key] = res
        if progress:
            progress(f"{len(done) + len(failed)}/{len(tasks)} {t.key} {t.name}: "
                     f"{res.n_cells} cells, {res.seconds:.1f} s")
    order = [t.key for t in tasks]
    return RunOutcome(results=[done[k] for k in order if k in done],
                      failed=sorted(failed, key=lambda f: order.index(f[0])),
                      seconds=time.perf_counter() - t0,
                      workers=len(client.scheduler_info().get("workers", {})))


def partitioned_coverage(
    cells: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    partition_col: str = "county_code",
    client,
    standards: Standards | dict | None = None,
    kinds: list[str] | None = None,
    halo_m: float | None = None,
    retries: int = 2,
    submit: Callable[..., Any] | None = None,
) -> tuple[gpd.GeoDataFrame, RunOutcome]:
    """Straight-line coverage of ``cells`` split by ``partition_col``, run on ``client``.

    The per-cell result equals ``compute_coverage(cells, facilities, None, standards)``
    (see :mod:`elder_coverage.national.partition` for why), in the order of ``cells``.

    Examples
    --------
    >>> from elder_coverage.national.cluster import make_client, partitioned_coverage
    >>> client = make_client("local", workers=2)                      # doctest: +SKIP
    >>> res, outcome = partitioned_coverage(study.cells, open_facilities,
    ...                                     client=client)            # doctest: +SKIP
    """
    if partition_col not in cells:
        raise KeyError(f"cells have no column {partition_col!r} to partition by")
    keys = cells[partition_col].astype(str)
    tasks = [Task(key=k, name=k, cells=cells[keys == k]) for k in sorted(keys.unique())]
    outcome = run_tasks(tasks, facilities, client=client, standards=standards, kinds=kinds,
                        halo_m=halo_m, keep_cells=True, retries=retries, submit=submit)
    if outcome.failed:
        return cells.iloc[0:0], outcome
    parts = pd.concat([r.cells for r in outcome.results])
    return gpd.GeoDataFrame(parts.loc[cells.index], crs=cells.crs), outcome

