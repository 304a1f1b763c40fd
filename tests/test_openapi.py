"""The committed OpenAPI document is what the code generates; operation ids are stable."""

from __future__ import annotations

import pytest

import json

from app.core import openapi
from app.core.config import Settings
from app.dbmigrate import ROOT
from app.main import create_app

# Does not use the test database: runs once, in the SQLite pass (deselected in the PostgreSQL pass).
pytestmark = pytest.mark.db_independent


def _generated() -> str:
    return openapi.render(create_app(Settings(_env_file=None, env="development", docs_enabled=True)))


def test_committed_openapi_matches_the_code():
    committed = (ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8")
    assert committed == _generated(), "openapi/openapi.json is stale: run `rmtc openapi`"


def test_operation_ids_are_unique_and_tagged():
    doc = json.loads(_generated())
    ids = [op["operationId"] for path in doc["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert all(":" in i for i in ids)
    assert "auth:issue_token" in ids and "users:list_users" in ids


def test_error_responses_are_documented_as_problems():
    doc = json.loads(_generated())
    op = doc["paths"]["/api/v1/users/{user_id}"]["get"]
    assert "application/problem+json" in op["responses"]["404"]["content"]
    assert "401" in op["responses"]
