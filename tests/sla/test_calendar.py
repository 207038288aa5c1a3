"""Working time across nights, weekends and Vietnamese public holidays."""

import datetime as dt

import pytest

from ioc_core.i18n import TIMEZONE
from ioc_core.sla.calendar import WorkCalendar

CAL = WorkCalendar.vietnam([2026])


def local(y: int, m: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=TIMEZONE).astimezone(dt.UTC)


def test_inside_one_morning() -> None:
    assert CAL.add(local(2026, 3, 2, 8), dt.timedelta(hours=2)) == local(2026, 3, 2, 10)


def test_lunch_break_and_evening_are_not_working_time() -> None:
    # Monday 10:30 + 3 h: one hour before lunch, two after (13:30-15:30).
    assert CAL.add(local(2026, 3, 2, 10, 30), dt.timedelta(hours=3)) == local(2026, 3, 2, 15, 30)
    # Monday 16:00 + 2 h: one hour that day, one the next morning.
    assert CAL.add(local(2026, 3, 2, 16), dt.timedelta(hours=2)) == local(2026, 3, 3, 8, 30)


def test_weekend_is_skipped() -> None:
    # Friday 16:30 + 1 h: half an hour on Friday, half on Monday morning.
    assert CAL.add(local(2026, 3, 6, 16, 30), dt.timedelta(hours=1)) == local(2026, 3, 9, 8)


def test_across_national_day_and_tet() -> None:
    # Tuesday 1/9/2026 16:00 + 2 h: 2/9 is National Day, so the second hour is on Thursday 3/9.
    assert CAL.add(local(2026, 9, 1, 16), dt.timedelta(hours=2)) == local(2026, 9, 3, 8, 30)
    # Friday 13/2/2026 (before Tết) 16:00 + 2 h: back at work on Monday 23/2.
    assert CAL.add(local(2026, 2, 13, 16), dt.timedelta(hours=2)) == local(2026, 2, 23, 8, 30)
    assert not CAL.is_working_day(dt.date(2026, 2, 17))


def test_between_counts_only_working_time() -> None:
    start, end = local(2026, 2, 13, 16), local(2026, 2, 23, 8, 30)
    assert CAL.between(start, end) == dt.timedelta(hours=2)
    assert CAL.between(end, start) == dt.timedelta(0)
    # One full working day is 7.5 hours (4 + 3.5).
    assert CAL.between(local(2026, 3, 2, 0), local(2026, 3, 3, 0)) == dt.timedelta(hours=7.5)


def test_extra_days_off_and_bad_input() -> None:
    with_day_off = WorkCalendar.vietnam([2026], extra=[dt.date(2026, 3, 2)])
    assert with_day_off.add(local(2026, 3, 2, 8), dt.timedelta(hours=1)) == local(2026, 3, 3, 8, 30)
    with pytest.raises(ValueError, match="negative"):
        CAL.add(local(2026, 3, 2, 8), dt.timedelta(hours=-1))
    never = WorkCalendar(week={})
    with pytest.raises(ValueError, match="no working time"):
        never.add(local(2026, 3, 2, 8), dt.timedelta(hours=1))


def test_subtract_mirrors_add_and_worked_weekend_days_count() -> None:
    due = CAL.add(local(2026, 2, 13, 16), dt.timedelta(hours=5))
    assert CAL.subtract(due, dt.timedelta(hours=5)) == local(2026, 2, 13, 16)
    # 4 h before Monday 9:00: one hour on Monday, three on Friday afternoon.
    assert CAL.subtract(local(2026, 3, 9, 8, 30), dt.timedelta(hours=4)) == local(2026, 3, 6, 14)
    saturday = dt.date(2026, 3, 7)
    worked = WorkCalendar(holidays=CAL.holidays, working_days=frozenset({saturday}))
    assert worked.add(local(2026, 3, 6, 16, 30), dt.timedelta(hours=1)) == local(2026, 3, 7, 8)


def test_periods_list_the_working_time_of_each_day_in_order() -> None:
    # Friday 6/3 to Tuesday 10/3/2026, with Monday given off and Saturday worked.
    saturday, monday = dt.date(2026, 3, 7), dt.date(2026, 3, 9)
    calendar = WorkCalendar(holidays=frozenset({monday}), working_days=frozenset({saturday}))
    periods = calendar.periods(dt.date(2026, 3, 6), dt.date(2026, 3, 10))

    def day(d: int) -> list[tuple[dt.datetime, dt.datetime]]:
        morning = (local(2026, 3, d, 7, 30), local(2026, 3, d, 11, 30))
        return [morning, (local(2026, 3, d, 13, 30), local(2026, 3, d, 17))]

    assert periods == day(6) + day(7) + day(10)
    assert all(begin.tzinfo == TIMEZONE for begin, _ in periods)
    # The same working time `between` counts over those days.
    total = sum((end - begin for begin, end in periods), dt.timedelta(0))
    assert total == calendar.between(local(2026, 3, 6, 0), local(2026, 3, 11, 0))
    assert calendar.periods(dt.date(2026, 3, 10), dt.date(2026, 3, 6)) == []
