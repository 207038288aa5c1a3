"""Working-time arithmetic on arrays: the SLA calendar's `add` and `subtract` for a million
moments at once.

The calendar's working periods over a window are laid end to end on a line of working seconds;
a moment maps to its position on that line and back with one binary search per moment. Same
answers as `WorkCalendar.add` / `subtract` (to the second) inside the window.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ioc_core.sla.calendar import WorkCalendar


class WorkTime:
    def __init__(self, calendar: WorkCalendar, first: dt.date, last: dt.date) -> None:
        # The calendar's own periods (holidays, swapped days, office hours).
        periods = calendar.periods(first, last)
        starts = [begin.timestamp() for begin, _ in periods]
        ends = [end.timestamp() for _, end in periods]
        if not starts:
            raise ValueError("the working calendar has no working time in the generated period")
        self.starts = np.array(starts)
        self.ends = np.array(ends)
        lengths = self.ends - self.starts
        # Working seconds before each period begins, and when it ends.
        self.before = np.concatenate(([0.0], np.cumsum(lengths)[:-1]))
        self.after = self.before + lengths

    def position(self, moments: np.ndarray) -> np.ndarray:
        """Working seconds from the window's start to each moment (epoch seconds)."""
        index = np.searchsorted(self.ends, moments, side="right")
        index = np.minimum(index, len(self.starts) - 1)
        inside = np.clip(moments - self.starts[index], 0.0, None)
        inside = np.minimum(inside, self.ends[index] - self.starts[index])
        return self.before[index] + inside

    def add(self, moments: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """The moments `seconds` of working time after `moments` (as `WorkCalendar.add`)."""
        target = self.position(moments) + seconds
        index = np.searchsorted(self.after, target, side="left")
        if np.any(index >= len(self.starts)):
            raise ValueError("a due time falls after the end of the working calendar's window")
        return self.starts[index] + (target - self.before[index])

    def subtract(self, moments: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """The moments `seconds` of working time before `moments` (as `WorkCalendar.subtract`)."""
        target = self.position(moments) - seconds
        index = np.searchsorted(self.before, target, side="right") - 1
        index = np.maximum(index, 0)
        return self.starts[index] + (target - self.before[index])
