"""Working time: office hours and public holidays, so an SLA of "3 working days" means that.

Times are stored in UTC and counted in the city's zone (Asia/Ho_Chi_Minh). The default calendar
holds Vietnam's public holidays; the lunar ones (Tết, Hùng Kings) are listed per year because
they move, and administrators edit the list as the government announces the days off.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ioc_core.i18n import TIMEZONE

Period = tuple[dt.time, dt.time]

# Solar holidays every year: New Year, Reunification Day, Labour Day, National Day. National
# Day's second day (1/9 or 3/9) and moved days are announced yearly: administrators add them.
FIXED_HOLIDAYS = (
    (1, 1, "Tết Dương lịch"),
    (4, 30, "Ngày Giải phóng miền Nam"),
    (5, 1, "Quốc tế Lao động"),
    (9, 2, "Quốc khánh"),
)
TET = "Tết Nguyên đán"
HUNG_KINGS = "Giỗ Tổ Hùng Vương"
# Days off announced for Tết (lunar new year) and the Hùng Kings' festival (10/3 lunar). Only
# announced years are listed; a later year's are added when the government announces them.
LUNAR_HOLIDAYS: dict[int, tuple[tuple[dt.date, str], ...]] = {
    2026: (
        *((dt.date(2026, 2, d), TET) for d in range(14, 23)),
        (dt.date(2026, 4, 26), HUNG_KINGS),
        (dt.date(2026, 4, 27), HUNG_KINGS),
    ),
}
# Public offices: 7:30-11:30 and 13:30-17:00, Monday to Friday.
OFFICE_HOURS: tuple[Period, ...] = (
    (dt.time(7, 30), dt.time(11, 30)),
    (dt.time(13, 30), dt.time(17, 0)),
)
WORKDAYS = (0, 1, 2, 3, 4)
# Bounded search: a calendar without a working hour in two years is broken, not a due date.
SEARCH_DAYS = 366 * 2


def default_holidays(years: Iterable[int]) -> dict[dt.date, str]:
    """Vietnam's public holidays in `years` that are known in advance, with their names."""
    days = {dt.date(y, m, d): name for y in years for m, d, name in FIXED_HOLIDAYS}
    days.update({day: name for y in years for day, name in LUNAR_HOLIDAYS.get(y, ())})
    return days


def default_week() -> dict[int, tuple[Period, ...]]:
    return {weekday: OFFICE_HOURS for weekday in WORKDAYS}


@dataclass(frozen=True)
class WorkCalendar:
    # Working periods per weekday (0 = Monday); a weekday missing from it is a day off.
    week: Mapping[int, tuple[Period, ...]] = field(default_factory=default_week)
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    # Weekend days worked in exchange for a bridge holiday; they follow Monday's hours.
    working_days: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def vietnam(cls, years: Iterable[int], extra: Iterable[dt.date] = ()) -> WorkCalendar:
        """The default calendar for `years`, with `extra` days off added by administrators."""
        return cls(holidays=frozenset(set(default_holidays(years)) | set(extra)))

    def is_working_day(self, day: dt.date) -> bool:
        return bool(self._hours_of(day))

    def _hours_of(self, day: dt.date) -> tuple[Period, ...]:
        if day in self.holidays:
            return ()
        if day in self.working_days:
            return self.week.get(day.weekday()) or self.week.get(0, OFFICE_HOURS)
        return self.week.get(day.weekday(), ())

    def _periods(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        return [
            (
                dt.datetime.combine(day, start, tzinfo=TIMEZONE),
                dt.datetime.combine(day, end, tzinfo=TIMEZONE),
            )
            for start, end in self._hours_of(day)
        ]

    def periods(self, first: dt.date, last: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working periods of the days `first` to `last`, both included, in order: each
        (begin, end) in the platform's time zone, after holidays and worked weekend days. What
        `add`, `subtract` and `between` walk through, for code that lays working time out
        itself (the benchmark generator does it for a million due times at once)."""
        found: list[tuple[dt.datetime, dt.datetime]] = []
        day = first
        while day <= last:
            found += self._periods(day)
            day += dt.timedelta(days=1)
        return found

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The moment `duration` of working time after `start` (UTC in, UTC out)."""
        if duration < dt.timedelta(0):
            raise ValueError("duration must not be negative")
        moment = start.astimezone(TIMEZONE)
        left = duration
        day = moment.date()
        for _ in range(SEARCH_DAYS):
            for begin, end in self._periods(day):
                begin = max(begin, moment)
                if begin >= end:
                    continue
                if begin + left <= end:
                    return (begin + left).astimezone(dt.UTC)
                left -= end - begin
            day += dt.timedelta(days=1)
        raise ValueError("the calendar has no working time within two years")

    def subtract(self, end: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The moment `duration` of working time before `end` (UTC in, UTC out)."""
        if duration < dt.timedelta(0):
            raise ValueError("duration must not be negative")
        moment = end.astimezone(TIMEZONE)
        left = duration
        day = moment.date()
        for _ in range(SEARCH_DAYS):
            for begin, finish in reversed(self._periods(day)):
                finish = min(finish, moment)
                if finish <= begin:
                    continue
                if finish - left >= begin:
                    return (finish - left).astimezone(dt.UTC)
                left -= finish - begin
            day -= dt.timedelta(days=1)
        raise ValueError("the calendar has no working time within two years")

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Working time from `start` to `end` (zero when `end` is not later)."""
        total = dt.timedelta(0)
        a, b = start.astimezone(TIMEZONE), end.astimezone(TIMEZONE)
        day = a.date()
        while day <= b.date():
            for begin, finish in self._periods(day):
                overlap = min(finish, b) - max(begin, a)
                if overlap > dt.timedelta(0):
                    total += overlap
            day += dt.timedelta(days=1)
        return total
