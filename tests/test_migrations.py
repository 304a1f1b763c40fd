"""Alembic is the only way the schema is made: upgrade/downgrade round-trips and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool, text

from app import dbmigrate
from app.models import metadata


def _diff(url: str) -> list:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return compare_metadata(ctx, metadata)
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_and_no_autogenerate_diff(database_url):
    head = dbmigrate.head_revision(database_url)
    assert dbmigrate.current_revision(database_url) == head  # the fixture database is migrated
    dbmigrate.downgrade(database_url, "base")
    engine = create_engine(database_url, poolclass=pool.NullPool)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    dbmigrate.upgrade(database_url)
    assert dbmigrate.current_revision(database_url) == head
    assert _diff(database_url) == []


def test_reference_data_is_seeded_by_the_migration(database_url):
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from countries")).scalar() == 14
        assert conn.execute(text("select name from countries where code = 'XK'")).scalar() == "Kosovo*"
        assert conn.execute(text("select count(*) from thematic_areas")).scalar() == 11
    engine.dispose()


def test_revision_files_have_dated_names():
    import re

    from app.dbmigrate import ROOT

    names = [p.name for p in (ROOT / "migrations" / "versions").glob("*.py")]
    assert names and all(re.match(r"^\d{4}_\d{2}_\d{2}_[0-9a-f]+_\w+\.py$", n) for n in names)
