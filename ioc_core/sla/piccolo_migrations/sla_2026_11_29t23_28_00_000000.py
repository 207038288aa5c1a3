"""The default working calendar: office hours Monday to Friday and Vietnam's public holidays
known in advance; administrators edit both afterwards in the staff portal."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from ioc_core.sla.calendar import OFFICE_HOURS, WORKDAYS, default_holidays

ID = "2026-11-29T23:28:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Default office hours and Vietnamese public holidays"
YEARS = range(2025, 2031)


async def seed() -> None:
    engine = engine_finder()
    assert engine is not None
    # Raw SQL with literals from code, not the live Table classes: they may change later.
    for weekday in WORKDAYS:
        for opens, closes in OFFICE_HOURS:
            await engine.run_ddl(
                "INSERT INTO office_hours (weekday, opens, closes) "
                f"VALUES ({weekday}, '{opens:%H:%M}', '{closes:%H:%M}')"
            )
    for day, name in sorted(default_holidays(YEARS).items()):
        await engine.run_ddl(
            "INSERT INTO calendar_day (day, working, name) "
            f"VALUES ('{day.isoformat()}', false, '{name}')"
        )


async def unseed() -> None:
    engine = engine_finder()
    assert engine is not None
    await engine.run_ddl("DELETE FROM office_hours")
    await engine.run_ddl("DELETE FROM calendar_day")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="sla", description=DESCRIPTION)
    manager.add_raw(seed)
    manager.add_raw_backwards(unseed)
    return manager
