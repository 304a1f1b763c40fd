from __future__ import annotations

import base64
import uuid

import pytest

from app.users.models import Role

V = {"X-Experience-API-Version": "1.0.3"}


def basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode(), **V}


@pytest.fixture
def lrs(client, factory):
    """Headers of an LRS client with every scope."""
    _, admin_h = factory.signed_in(Role.admin)
    r = client.post("/api/v1/lrs/clients", json={"name": "test harness", "scopes": ["all"]}, headers=admin_h)
    assert r.status_code == 201, r.text
    return basic(r.json()["key"], r.json()["secret"])


def statement(**overrides) -> dict:
    s = {
        "actor": {"objectType": "Agent", "mbox": "mailto:ana@kirs.gov.rs", "name": "Ana"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted", "display": {"en-US": "attempted"}},
        "object": {"id": "https://rmtc.example/activities/asylum-1", "definition": {"name": {"en": "Asylum 1"}}},
    }
    s.update(overrides)
    return s


def new_id() -> str:
    return str(uuid.uuid4())
