"""Period names and shares are written by one module, so every answer names a window and a share alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from interest_tools.windows import percent, period_name, share_change, window_period


@pytest.mark.parametrize(
    ("share", "text"),
    [(0.0, "0%"), (0.004, "<1%"), (0.005, "<1%"), (0.0051, "1%"), (0.125, "12%"), (0.41, "41%"), (1.0, "100%")],
)
def test_percent(share: float, text: str) -> None:
    assert percent(share) == text


@pytest.mark.parametrize(
    ("start", "end", "long", "short"),
    [
        (datetime(2020, 3, 1, tzinfo=UTC), datetime(2020, 4, 1, tzinfo=UTC), "March 2020", "Mar 2020"),
        (datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 4, 1, tzinfo=UTC), "Q1 2020", "Q1 2020"),
        (datetime(2020, 10, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC), "Q4 2020", "Q4 2020"),
        (datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC), "2020", "2020"),
        (datetime(2020, 3, 2, tzinfo=UTC), datetime(2020, 3, 9, tzinfo=UTC), "the week of 2 March 2020", "week of 2020-03-02"),
        (datetime(2020, 3, 5, tzinfo=UTC), datetime(2020, 4, 20, tzinfo=UTC), "5 March to 19 April 2020", "2020-03-05 – 2020-04-19"),
    ],
)
def test_long_and_short_period_names_agree_on_the_period(start, end, long: str, short: str) -> None:
    assert period_name(start, end) == long
    assert period_name(start, end, short=True) == short


def test_a_quarter_must_start_on_a_quarter_month() -> None:
    assert window_period(datetime(2020, 2, 1, tzinfo=UTC), datetime(2020, 5, 1, tzinfo=UTC)) == "window"


def test_share_change() -> None:
    assert share_change("Drama", 0.23, 0.274) == "Drama 23% → 27%"
