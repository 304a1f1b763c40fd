"""The country scoping model: coordinators see and manage only their country; learners themselves."""

from __future__ import annotations

import uuid

import pytest

from app.users.models import Role


@pytest.fixture
def world(factory):
    rs_coord, rs_coord_h = factory.signed_in(Role.coordinator, "RS")
    me_learner = factory.user(Role.learner, "ME")
    rs_learner = factory.user(Role.learner, "RS")
    return {"rs_coord": rs_coord, "rs_coord_h": rs_coord_h, "me_learner": me_learner, "rs_learner": rs_learner}


def test_serbia_coordinator_cannot_see_a_montenegro_user(client, world):
    h = world["rs_coord_h"]
    target = world["me_learner"]
    listed = client.get("/api/v1/users", headers=h).json()["items"]
    assert target.id not in {u["id"] for u in listed}
    assert {u["country_code"] for u in listed} == {"RS"}
    assert client.get(f"/api/v1/users?country_code=ME", headers=h).json()["items"] == []
    missing = client.get(f"/api/v1/users/{uuid.uuid4()}", headers=h)
    out_of_scope = client.get(f"/api/v1/users/{target.id}", headers=h)
    assert out_of_scope.status_code == missing.status_code == 404
    assert out_of_scope.json()["code"] == missing.json()["code"] == "not-found"


def test_serbia_coordinator_cannot_update_or_deactivate_a_montenegro_user(client, world, db):
    h = world["rs_coord_h"]
    target = world["me_learner"]
    assert client.patch(f"/api/v1/users/{target.id}", json={"full_name": "Changed"}, headers=h).status_code == 404
    assert client.post(f"/api/v1/users/{target.id}/deactivate", headers=h).status_code == 404
    assert client.post(f"/api/v1/users/{target.id}/password", json={"new_password": "take-over-12345"}, headers=h).status_code == 404
    from app.users.models import User

    fresh = db.get(User, target.id)
    assert fresh.full_name != "Changed" and fresh.is_active


def test_coordinator_manages_learners_of_own_country(client, world, db):
    h = world["rs_coord_h"]
    target = world["rs_learner"]
    r = client.patch(f"/api/v1/users/{target.id}", json={"full_name": "Ana Novaković", "job_title": "Asylum officer"}, headers=h)
    assert r.status_code == 200 and r.json()["full_name"] == "Ana Novaković"
    assert client.post(f"/api/v1/users/{target.id}/deactivate", headers=h).json()["is_active"] is False
    assert client.post(f"/api/v1/users/{target.id}/activate", headers=h).json()["is_active"] is True


def test_coordinator_cannot_create_a_user_in_another_country(client, world):
    r = client.post(
        "/api/v1/users",
        json={"email": "new.me@example.org", "full_name": "New Person", "country_code": "ME"},
        headers=world["rs_coord_h"],
    )
    assert r.status_code == 403
    assert client.get("/api/v1/users?q=new.me", headers=world["rs_coord_h"]).json()["items"] == []


@pytest.mark.parametrize("role", ["admin", "coordinator", "instructor"])
def test_coordinator_cannot_grant_roles_above_learner(client, world, role):
    r = client.post(
        "/api/v1/users",
        json={"email": f"x.{role}@example.org", "full_name": "X", "country_code": "RS", "role": role},
        headers=world["rs_coord_h"],
    )
    assert r.status_code == 403


def test_coordinator_cannot_promote_or_move_a_learner(client, world, db):
    target = world["rs_learner"]
    for body in ({"role": "admin"}, {"role": "coordinator"}, {"country_code": "ME"}):
        r = client.patch(f"/api/v1/users/{target.id}", json=body, headers=world["rs_coord_h"])
        assert r.status_code == 422, body
        assert r.json()["errors"][0]["loc"][-1] in body
    from app.users.models import User

    fresh = db.get(User, target.id)
    assert fresh.role is Role.learner and fresh.country_code == "RS"


def test_coordinator_cannot_manage_other_staff_of_own_country(client, factory, world):
    admin_rs = factory.user(Role.admin, "RS")
    other_coord = factory.user(Role.coordinator, "RS")
    for target in (admin_rs, other_coord):
        assert client.get(f"/api/v1/users/{target.id}", headers=world["rs_coord_h"]).status_code == 200
        assert client.post(f"/api/v1/users/{target.id}/deactivate", headers=world["rs_coord_h"]).status_code == 403
        assert client.patch(f"/api/v1/users/{target.id}", json={"full_name": "x"}, headers=world["rs_coord_h"]).status_code == 403


def test_coordinator_creates_a_learner_in_own_country(client, world, factory):
    r = client.post(
        "/api/v1/users",
        json={"email": "Marko.Jovanovic@KIRS.gov.rs", "full_name": "Marko Jovanović", "country_code": "RS",
              "password": "initial-passphrase-1", "preferred_language": "sr-Latn", "sex": "male"},
        headers=world["rs_coord_h"],
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["email"] == "marko.jovanovic@kirs.gov.rs" and body["role"] == "learner"
    signed = client.post("/api/v1/auth/token", data={"username": "marko.jovanovic@kirs.gov.rs", "password": "initial-passphrase-1"})
    assert signed.status_code == 200


def test_learner_sees_only_themself(client, factory, world):
    learner, h = factory.signed_in(Role.learner, "RS")
    listed = client.get("/api/v1/users", headers=h).json()["items"]
    assert [u["id"] for u in listed] == [str(learner.id)]
    assert client.get(f"/api/v1/users/{world['rs_learner'].id}", headers=h).status_code == 404
    assert client.get(f"/api/v1/users/{learner.id}", headers=h).status_code == 200
    assert client.post("/api/v1/users", json={"email": "a@example.org", "full_name": "A", "country_code": "RS"}, headers=h).status_code == 403
    assert client.post(f"/api/v1/users/{world['rs_learner'].id}/deactivate", headers=h).status_code == 403


def test_instructor_sees_only_themself_in_users(client, factory, world):
    instructor, h = factory.signed_in(Role.instructor, "SE")
    assert [u["id"] for u in client.get("/api/v1/users", headers=h).json()["items"]] == [str(instructor.id)]


@pytest.mark.parametrize("field,value", [("role", "admin"), ("country_code", "ME"), ("is_active", False), ("email", "x@example.org"), ("id", "6f1c2d3e-0000-4000-8000-000000000001")])
def test_self_update_rejects_mass_assignment(client, factory, field, value):
    learner, h = factory.signed_in(Role.learner, "RS")
    r = client.patch("/api/v1/users/me", json={"full_name": "Me", field: value}, headers=h)
    assert r.status_code == 422
    me = client.get("/api/v1/users/me", headers=h).json()
    assert me["full_name"] != "Me" and me["role"] == "learner" and me["country_code"] == "RS"


@pytest.mark.parametrize("role", [Role.admin, Role.coordinator, Role.learner])
def test_nobody_raises_own_role_or_moves_themselves(client, factory, role):
    user, h = factory.signed_in(role, "RS")
    for body in ({"role": "admin"}, {"country_code": "ME"}, {"is_active": False}):
        r = client.patch(f"/api/v1/users/{user.id}", json=body, headers=h)
        assert r.status_code == 422, (role, body)
    me = client.get("/api/v1/users/me", headers=h).json()
    assert me["role"] == role.value and me["country_code"] == "RS"


def test_self_update_of_allowed_fields(client, factory):
    learner, h = factory.signed_in(Role.learner, "MK")
    r = client.patch("/api/v1/users/me", json={"full_name": "Elena T.", "preferred_language": "MK", "sex": "female"}, headers=h)
    assert r.status_code == 200
    assert r.json()["preferred_language"] == "mk" and r.json()["sex"] == "female"
    assert client.patch("/api/v1/users/me", json={"preferred_language": "xx-Fake"}, headers=h).status_code == 422
    assert client.patch("/api/v1/users/me", json={"full_name": None}, headers=h).status_code == 422
