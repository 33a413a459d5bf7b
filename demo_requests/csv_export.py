"""CSV export of demo requests that is safe to open in a spreadsheet (no database here).

A cell that starts with =, +, -, @, tab or carriage return is read by Excel, LibreOffice and
Google Sheets as a formula ("CSV injection"); such a cell is prefixed with a single quote so it
is shown as text. See OWASP's "CSV Injection" page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = [
    ("created_at", "Received (UTC)"),
    ("status", "Status"),
    ("name", "Name"),
    ("email", "Work e-mail"),
    ("company", "Company"),
    ("role", "Role"),
    ("message", "Message"),
    ("source", "Source article"),
    ("consent_to_contact", "Consented to contact"),
]


def spreadsheet_safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_render(rows: Iterable[dict]) -> str:
    """The CSV text for rows keyed by the COLUMNS names, with a BOM so Excel reads UTF-8."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([label for _, label in COLUMNS])
    for row in rows:
        writer.writerow([spreadsheet_safe(row.get(key)) for key, _ in COLUMNS])
    return buffer.getvalue()
