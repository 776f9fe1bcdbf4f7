"""The one exception every loader raises for bad input."""

from __future__ import annotations

import os
from collections.abc import Sequence

from elder_coverage._errors import DataError


def _format_rows(rows: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    if len(rows) > limit:
        shown += f", … ({len(rows) - limit} more)"
    return f"row {shown}" if len(rows) == 1 else f"rows {shown}"


class InputError(DataError):
    """Bad input data, located as precisely as the format allows.

    A ``ValueError`` so callers that already catch ``ValueError`` keep working, with the
    location kept as attributes so a CLI or notebook can show or log it.

    Parameters
    ----------
    message : str
        What is wrong and, where it helps, what would be accepted.
    path : str or os.PathLike, optional
        The file (or folder) the data came from.
    row : int or sequence of int, optional
        1-based data row(s) (the header line is not counted, so CSV row 1 is line 2).
    field : str, optional
        Column, attribute or tag name as written in the file.
    band : str, optional
        Raster band or band file, for rasters.

    Examples
    --------
    >>> str(InputError("capacity is negative (-3)", path="f.csv", row=4, field="床位数"))
    "f.csv: row 4, field '床位数': capacity is negative (-3)"
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        row: int | Sequence[int] | None = None,
        field: str | None = None,
        band: str | None = None,
    ) -> None:
        self.path = None if path is None else os.fspath(path)
        if row is None:
            self.rows: tuple[int, ...] = ()
        elif isinstance(row, int):
            self.rows = (int(row),)
        else:
            self.rows = tuple(int(r) for r in row)
        self.field = field
        self.band = band
        self.reason = message
        super().__init__(self._render())

    @property
    def row(self) -> int | None:
        """The first row named, or None."""
        return self.rows[0] if self.rows else None

    def _render(self) -> str:
        where = []
        if self.band is not None:
            where.append(f"band {self.band}")
        if self.rows:
            where.append(_format_rows(self.rows))
        if self.field is not None:
            where.append(f"field '{self.field}'")
        head = self.path or "<input>"
        if where:
            head += ": " + ", ".join(where)
        return f"{head}: {self.reason}"
