"""Pure pieces, no database: the spreadsheet-safe CSV and the signed time trap."""

import csv
import io
import time

import pytest

from demo_requests.csv_export import csv_render, spreadsheet_safe
from demo_requests.spam import TimeTrap, time_token_check, time_token_issue


@pytest.mark.parametrize(
    "value, expected",
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Ada = genius", "Ada = genius"),
        ("", ""),
        (None, ""),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_turned_into_text(value, expected):
    assert spreadsheet_safe(value) == expected


def test_csv_has_a_header_and_quotes_every_cell_and_neutralises_formulas():
    text = csv_render(
        [{"name": "=cmd|' /C calc'!A0", "company": 'Quote "Co", Ltd', "message": "line one\nline two"}]
    )
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["Received (UTC)", "Status", "Name"]
    assert rows[1][2] == "'=cmd|' /C calc'!A0"
    assert rows[1][4] == 'Quote "Co", Ltd'
    assert rows[1][6] == "line one\nline two"


def test_time_trap_accepts_a_human_pace_and_rejects_bots_and_replays(settings):
    settings.DEMO_REQUEST_MIN_SECONDS = 3
    settings.DEMO_REQUEST_MAX_AGE_S = 3600
    now = time.time()
    assert time_token_check(time_token_issue(issued_at=now - 20), now=now) is TimeTrap.OK
    assert time_token_check(time_token_issue(issued_at=now - 0.5), now=now) is TimeTrap.TOO_FAST
    assert time_token_check(time_token_issue(issued_at=now - 7200), now=now) is TimeTrap.TOO_OLD
    assert time_token_check("", now=now) is TimeTrap.INVALID
    forged = time_token_issue(issued_at=now - 20)[:-3] + "abc"
    assert time_token_check(forged, now=now) is TimeTrap.INVALID
