"""Progress of long jobs (a scenario run, the sample build) over named stages.

On a terminal and in a notebook a ``tqdm.auto`` bar (a widget in JupyterLab when ipywidgets
is installed); otherwise, in logs, CI and scheduled jobs, one line per stage on standard
error, so that a province run that takes minutes never looks hung. ``ELDER_COVERAGE_PROGRESS``
(``bar``, ``lines`` or ``off``) overrides the choice.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any

MODES = ("bar", "lines", "off")
ENV_VAR = "ELDER_COVERAGE_PROGRESS"


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where standard error is not a terminal but shows)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def progress_mode(stream: IO[str] | None = None) -> str:
    """``bar``, ``lines`` or ``off`` for output to ``stream`` (default standard error)."""
    env = os.environ.get(ENV_VAR, "").strip().lower()
    if env in MODES:
        return env
    stream = stream if stream is not None else sys.stderr
    is_tty = bool(getattr(stream, "isatty", lambda: False)())
    return "bar" if is_tty or in_notebook() else "lines"


class StageProgress:
    """Report progress over a known number of named stages.

    Parameters
    ----------
    label : str
        What runs (``"elder-coverage run"``), shown before each stage.
    total : int
        Number of stages.
    stream : file, optional
        Where to write (default standard error).
    mode : {"bar", "lines", "off"}, optional
        Default: :func:`progress_mode` of ``stream``.

    Examples
    --------
    >>> import io
    >>> buf = io.StringIO()
    >>> with StageProgress("build", 2, stream=buf, mode="lines") as p:
    ...     p.stage("layout")
    ...     p.stage("roads")
    >>> buf.getvalue().splitlines()[0]
    'build [1/2] layout …'
    """

    def __init__(self, label: str, total: int, *, stream: IO[str] | None = None,
                 mode: str | None = None) -> None:
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.mode = mode or progress_mode(self.stream)
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.n = 0
        self._t0 = time.perf_counter()
        self._bar: Any = None
        if self.mode == "bar":
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=label, unit="stage", leave=False,
                             file=self.stream)

    def stage(self, name: str) -> None:
        """Start stage ``name`` (the previous one, if any, is done)."""
        if self._bar is not None:
            if self.n:
                self._bar.update(1)
            self._bar.set_description(f"{self.label}: {name}")
        elif self.mode == "lines":
            elapsed = time.perf_counter() - self._t0
            at = f" ({elapsed:.0f} s)" if self.n else ""
            print(f"{self.label} [{self.n + 1}/{self.total}] {name} …{at}", file=self.stream,
                  flush=True)
        self.n += 1

    def close(self) -> None:
        """Finish: close the bar, or write the total time."""
        if self._bar is not None:
            self._bar.update(max(self.total - self._bar.n, 0))
            self._bar.close()
            self._bar = None
        elif self.mode == "lines" and self.n:
            print(f"{self.label}: done in {time.perf_counter() - self._t0:.1f} s",
                  file=self.stream, flush=True)
            self.n = 0

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        # On failure the lines already say which stage was running; no "done" line.
        if exc[0] is not None and self.mode == "lines":
            self.n = 0
        self.close()
