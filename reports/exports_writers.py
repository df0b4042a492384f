"""Writing an export's rows to a file, as CSV or as XLSX (openpyxl's write-only mode, which
streams rows to disk instead of holding the workbook in memory).

Cells: amounts stay Decimal (numbers in a spreadsheet, exact text in CSV), timestamps are
UTC, and text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) is
prefixed with an apostrophe: customers choose their own names."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Any, Protocol

from openpyxl import Workbook

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{_utc(value):%Y-%m-%d %H:%M:%S}"
    if isinstance(value, date | Decimal | int):
        return str(value)
    return safe_text(str(value))


def xlsx_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value)  # spreadsheets know no time zones
    if isinstance(value, str):
        return safe_text(value)
    if value is None or isinstance(value, bool | date | Decimal | int):
        return value
    return safe_text(str(value))


class RowWriter(Protocol):
    def write(self, rows: Iterable[tuple[Any, ...]]) -> int: ...

    def close(self) -> None: ...


class CsvRowWriter:
    def __init__(self, path: str, header: tuple[str, ...]) -> None:
        # utf-8-sig: the byte-order mark makes Excel read the file as UTF-8
        self._file: IO[str] = open(path, "w", newline="", encoding="utf-8-sig")  # noqa: SIM115
        self._csv = csv.writer(self._file)
        self._csv.writerow(header)

    def write(self, rows: Iterable[tuple[Any, ...]]) -> int:
        written = 0
        for row in rows:
            self._csv.writerow([csv_cell(cell) for cell in row])
            written += 1
        return written

    def close(self) -> None:
        self._file.close()


class XlsxRowWriter:
    def __init__(self, path: str, header: tuple[str, ...], title: str) -> None:
        self._path = path
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet(title=title)
        self._sheet.append(list(header))

    def write(self, rows: Iterable[tuple[Any, ...]]) -> int:
        written = 0
        for row in rows:
            self._sheet.append([xlsx_cell(cell) for cell in row])
            written += 1
        return written

    def close(self) -> None:
        self._book.save(self._path)


def row_writer(fmt: str, path: str, header: tuple[str, ...], title: str) -> RowWriter:
    if fmt == "xlsx":
        return XlsxRowWriter(path, header, title)
    return CsvRowWriter(path, header)
