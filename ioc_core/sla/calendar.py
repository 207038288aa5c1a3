"""Working time: office hours and public holidays, so an SLA of "3 working days" means that.

Times are stored in UTC and counted in the city's zone (Asia/Ho_Chi_Minh). The default calendar
holds Vietnam's public holidays; the lunar ones (Tết, Hùng Kings) are listed per year because
they move, and administrators edit the list as the government announces the days off.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from ioc_core.i18n import TIMEZONE

# Solar holidays every year: New Year, Reunification Day, Labour Day, National Day. National
# Day's second day (1/9 or 3/9) and moved days are announced yearly: administrators add them.
FIXED_HOLIDAYS = ((1, 1), (4, 30), (5, 1), (9, 2))
# Days off announced for Tết (lunar new year) and the Hùng Kings' festival (10/3 lunar). Only
# announced years are listed; a later year's are added when the government announces them.
LUNAR_HOLIDAYS: dict[int, tuple[dt.date, ...]] = {
    2026: (
        *(dt.date(2026, 2, d) for d in range(14, 23)),
        dt.date(2026, 4, 26),
        dt.date(2026, 4, 27),
    ),
}
# Public offices: 7:30-11:30 and 13:30-17:00, Monday to Friday.
OFFICE_HOURS = ((dt.time(7, 30), dt.time(11, 30)), (dt.time(13, 30), dt.time(17, 0)))
WORKDAYS = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class WorkCalendar:
    hours: tuple[tuple[dt.time, dt.time], ...] = OFFICE_HOURS
    workdays: tuple[int, ...] = WORKDAYS
    holidays: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def vietnam(cls, years: Iterable[int], extra: Iterable[dt.date] = ()) -> WorkCalendar:
        """The default calendar for `years`, with `extra` days off added by administrators."""
        days = {dt.date(y, m, d) for y in years for m, d in FIXED_HOLIDAYS}
        days |= {d for y in years for d in LUNAR_HOLIDAYS.get(y, ())}
        return cls(holidays=frozenset(days | set(extra)))

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() in self.workdays and day not in self.holidays

    def _periods(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        if not self.is_working_day(day):
            return []
        return [
            (
                dt.datetime.combine(day, start, tzinfo=TIMEZONE),
                dt.datetime.combine(day, end, tzinfo=TIMEZONE),
            )
            for start, end in self.hours
        ]

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The moment `duration` of working time after `start` (UTC in, UTC out)."""
        if duration < dt.timedelta(0):
            raise ValueError("duration must not be negative")
        moment = start.astimezone(TIMEZONE)
        left = duration
        day = moment.date()
        # Bounded: a year without a single working hour is a broken calendar, not a due date.
        for _ in range(366 * 2):
            for begin, end in self._periods(day):
                begin = max(begin, moment)
                if begin >= end:
                    continue
                if begin + left <= end:
                    return (begin + left).astimezone(dt.UTC)
                left -= end - begin
            day += dt.timedelta(days=1)
            moment = dt.datetime.combine(day, dt.time(0), tzinfo=TIMEZONE)
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
