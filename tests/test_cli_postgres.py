"""`rmtc serve` against a PostgreSQL database (runs in the PostgreSQL pass)."""

from __future__ import annotations

import pytest

from tests.conftest import PG_URL
from tests.test_cli import _env, _free_port, _run


@pytest.mark.skipif(not PG_URL, reason="needs RMTC_TEST_DATABASE_URL (PostgreSQL)")
def test_serve_refuses_an_unmigrated_postgres(tmp_path, database_url):
    from app import dbmigrate

    dbmigrate.downgrade(database_url, "base")
    result = _run(["serve", "--port", str(_free_port())], _env(tmp_path, RMTC_DATABASE_URL=database_url), check=False)
    assert result.returncode == 2 and "rmtc db upgrade" in result.stderr
