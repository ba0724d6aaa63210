"""ScheduleRecurrence's fire-time arithmetic, pure: a table of v1 recurrences and the times they fire.

Every row asks for the next few fire times after a fixed moment; the expected times are worked out
by hand from v1's rules (periods counted from start_time, fixed times inside an active period).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_azml.exceptions import UserErrorException
from airflow_azml.pipeline.core.recurrence import ScheduleRecurrence

WED_NOON = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)  # Wednesday 1 May 2030


def _utc(*parts: int) -> str:
    return datetime(*parts, tzinfo=UTC).isoformat()


TABLE = [
    pytest.param(  # the notebook's recurrence: every other day at 22:30, days counted from start_time
        {
            "frequency": "Day",
            "interval": 2,
            "hours": [22],
            "minutes": [30],
            "start_time": "2030-04-30T08:00:00",
        },
        [_utc(2030, 5, 2, 22, 30), _utc(2030, 5, 4, 22, 30), _utc(2030, 5, 6, 22, 30)],
        id="every-other-day-22:30",
    ),
    pytest.param(  # the first fire time is never before start_time, even on the start day
        {"frequency": "Day", "interval": 3, "hours": [6, 18], "start_time": "2030-05-01T10:00:00"},
        [_utc(2030, 5, 1, 18, 0), _utc(2030, 5, 4, 6, 0), _utc(2030, 5, 4, 18, 0)],
        id="every-3-days-two-hours-minutes-from-start",
    ),
    pytest.param(
        {"frequency": "Day", "interval": 1, "hours": [9], "minutes": [0, 30]},
        [_utc(2030, 5, 2, 9, 0), _utc(2030, 5, 2, 9, 30), _utc(2030, 5, 3, 9, 0)],
        id="daily-9:00-and-9:30",
    ),
    pytest.param(  # weeks start on Monday; week of the start_time is active, the next one is not
        {
            "frequency": "Week",
            "interval": 2,
            "week_days": ["Monday", "Friday"],
            "time_of_day": "07:15",
            "start_time": "2030-04-29T00:00:00",
        },
        [_utc(2030, 5, 3, 7, 15), _utc(2030, 5, 13, 7, 15), _utc(2030, 5, 17, 7, 15)],
        id="fortnightly-mon-fri-07:15",
    ),
    pytest.param(  # Week without week_days: the start_time's week day (a Thursday)
        {"frequency": "Week", "interval": 1, "hours": [8], "start_time": "2030-04-25T08:00:00"},
        [_utc(2030, 5, 2, 8, 0), _utc(2030, 5, 9, 8, 0), _utc(2030, 5, 16, 8, 0)],
        id="weekly-on-the-start-day",
    ),
    pytest.param(  # in a time zone: 06:00 Los Angeles is 13:00 UTC in May (PDT); 2312 days after 2024-01-01
        {"frequency": "Day", "interval": 2, "hours": [6], "time_zone": "PacificStandardTime"},
        [_utc(2030, 5, 1, 13, 0), _utc(2030, 5, 3, 13, 0), _utc(2030, 5, 5, 13, 0)],
        id="every-other-day-in-pacific-time",
    ),
    pytest.param(  # no start_time: periods counted from Monday 2024-01-01 00:00
        {"frequency": "Minute", "interval": 15},
        [_utc(2030, 5, 1, 12, 15), _utc(2030, 5, 1, 12, 30), _utc(2030, 5, 1, 12, 45)],
        id="every-15-minutes",
    ),
    pytest.param(
        {"frequency": "Hour", "interval": 5, "start_time": "2030-05-01T11:20:00"},
        [_utc(2030, 5, 1, 16, 20), _utc(2030, 5, 1, 21, 20), _utc(2030, 5, 2, 2, 20)],
        id="every-5-hours-from-start",
    ),
    pytest.param(  # start_time in the future: the first fire time is the start time itself
        {"frequency": "Day", "interval": 1, "start_time": "2030-06-01T05:00:00"},
        [_utc(2030, 6, 1, 5, 0), _utc(2030, 6, 2, 5, 0), _utc(2030, 6, 3, 5, 0)],
        id="daily-from-a-future-start",
    ),
    pytest.param(  # months keep the start day, clipped to the month's length
        {"frequency": "Month", "interval": 1, "start_time": "2030-01-31T09:00:00"},
        [_utc(2030, 5, 31, 9, 0), _utc(2030, 6, 30, 9, 0), _utc(2030, 7, 31, 9, 0)],
        id="monthly-on-the-31st",
    ),
    pytest.param(
        {"frequency": "Month", "interval": 3, "start_time": "2030-02-10T00:00:00"},
        [_utc(2030, 5, 10, 0, 0), _utc(2030, 8, 10, 0, 0), _utc(2030, 11, 10, 0, 0)],
        id="quarterly",
    ),
    pytest.param(  # daily at 02:30 Berlin across the spring DST change (2030-03-31 has no 02:30)
        {
            "frequency": "Day",
            "interval": 1,
            "start_time": "2030-03-29T02:30:00",
            "time_zone": "Europe/Berlin",
        },
        [_utc(2030, 3, 30, 1, 30), _utc(2030, 3, 31, 1, 30), _utc(2030, 4, 1, 0, 30)],
        id="daily-across-dst",
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), TABLE)
def test_next_fire_times(kwargs, expected):
    after = (
        WED_NOON if "03-29" not in str(kwargs.get("start_time")) else datetime(2030, 3, 29, 12, tzinfo=UTC)
    )
    got = [t.isoformat() for t in ScheduleRecurrence(**kwargs).fire_times(after, 3)]
    assert got == expected


def test_inclusive_returns_a_fire_time_itself():
    rec = ScheduleRecurrence("Day", 2, hours=[22], minutes=[30], start_time="2030-04-30T08:00:00")
    at = datetime(2030, 5, 2, 22, 30, tzinfo=UTC)
    assert rec.next_fire_time(at, inclusive=True) == at
    assert rec.next_fire_time(at) == datetime(2030, 5, 4, 22, 30, tzinfo=UTC)


def test_which_timetable_each_recurrence_needs():
    assert ScheduleRecurrence("Hour", 2).timetable_kind() == "delta"
    assert ScheduleRecurrence("Day", 1, hours=[22], minutes=[30]).cron() == "30 22 * * *"
    assert ScheduleRecurrence(
        "Week", 1, week_days=["Monday", "Sunday"], hours=[6, 18], minutes=[30]
    ).cron() == ("30 6,18 * * 1,0")
    notebook = ScheduleRecurrence(frequency="Day", interval=2, hours=[22], minutes=[30])
    assert notebook.timetable_kind() == "recurrence" and notebook.cron() is None
    assert notebook.describe() == "every 2 days at 22:30"


def test_cron_and_arithmetic_agree_for_interval_one():
    """Where cron can say it, the pure arithmetic gives the same times as the cron expression."""
    from croniter import croniter

    rec = ScheduleRecurrence("Week", 1, week_days=["Tuesday", "Saturday"], hours=[5, 17], minutes=[10])
    it = croniter(rec.cron(), WED_NOON)
    assert rec.fire_times(WED_NOON, 6) == [it.get_next(datetime) for _ in range(6)]


def test_bad_zone_and_start_time_are_refused():
    with pytest.raises(UserErrorException, match="time_zone 'Mars/Olympus' is not a known zone"):
        ScheduleRecurrence("Day", 1, time_zone="Mars/Olympus")
    with pytest.raises(UserErrorException, match="start_time 'tomorrow' is not an ISO date-time"):
        ScheduleRecurrence("Day", 1, start_time="tomorrow")
    with pytest.raises(UserErrorException, match="aware datetime"):
        ScheduleRecurrence("Day", 1).next_fire_time(datetime(2030, 1, 1))
