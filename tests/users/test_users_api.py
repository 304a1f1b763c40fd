"""Admin management of users: creation rules, validation, uniqueness, listing and pagination."""

from __future__ import annotations

import pytest

from app.users.models import Role

INSTITUTION_MUP_CG = None


def _institution(client, h, country, acronym):
    items = client.get(f"/api/v1/institutions?country_code={country}", headers=h).json()
    return next(i["id"] for i in items if i["acronym"] == acronym)


def test_admin_creates_users_of_any_country_and_role(client, factory):
    admin, h = factory.signed_in(Role.admin)
    inst = _institution(client, h, "ME", "MUP-CG")
    r = client.post(
        "/api/v1/users",
        json={"email": "coord.me@gov.me", "full_name": "Jelena V.", "country_code": "ME", "role": "coordinator",
              "institution_id": inst, "preferred_language": "cnr"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "coordinator" and r.json()["institution_id"] == inst


def test_email_is_unique_case_insensitively(client, factory):
    admin, h = factory.signed_in(Role.admin)
    body = {"email": "Dup@Example.org", "full_name": "A", "country_code": "RS"}
    assert client.post("/api/v1/users", json=body, headers=h).status_code == 201
    again = client.post("/api/v1/users", json={**body, "email": "dup@EXAMPLE.org"}, headers=h)
    assert again.status_code == 409 and again.json()["code"] == "email-taken"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"email": "not-an-email", "full_name": "A", "country_code": "RS"}, "email"),
        ({"email": "zed.new@example.org", "full_name": "", "country_code": "RS"}, "full_name"),
        ({"email": "zed.new@example.org", "full_name": "A", "country_code": "rs"}, "country_code"),
        ({"email": "zed.new@example.org", "full_name": "A", "country_code": "ZZ"}, "country_code"),
        ({"email": "zed.new@example.org", "full_name": "A", "country_code": "RS", "role": "superuser"}, "role"),
        ({"email": "zed.new@example.org", "full_name": "A", "country_code": "RS", "sex": "unknown"}, "sex"),
        ({"email": "zed.new@example.org", "full_name": "A", "country_code": "RS", "preferred_language": "zz-Qqqq"}, "preferred_language"),
        ({"email": "zed.new@example.org", "full_name": "A", "country_code": "RS", "password": "short"}, "password"),
        ({"email": "zed.new@example.org", "full_name": "A", "country_code": "RS", "is_admin": True}, "is_admin"),
    ],
)
def test_invalid_user_bodies_name_the_field_and_store_nothing(client, factory, body, field):
    admin, h = factory.signed_in(Role.admin)
    r = client.post("/api/v1/users", json=body, headers=h)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "validation-error"
    assert any(err["loc"][-1] == field for err in problem["errors"]), problem
    assert client.get("/api/v1/users?q=zed.new@example.org", headers=h).json()["items"] == []


def test_institution_must_belong_to_the_users_country(client, factory):
    admin, h = factory.signed_in(Role.admin)
    inst_me = _institution(client, h, "ME", "MUP-CG")
    r = client.post("/api/v1/users", json={"email": "b@example.org", "full_name": "B", "country_code": "RS", "institution_id": inst_me}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "institution_id"]


def test_sex_is_optional(client, factory):
    admin, h = factory.signed_in(Role.admin)
    r = client.post("/api/v1/users", json={"email": "c@example.org", "full_name": "C", "country_code": "BA"}, headers=h)
    assert r.status_code == 201 and r.json()["sex"] is None


def test_admin_moves_a_user_and_the_old_institution_is_cleared(client, factory):
    admin, h = factory.signed_in(Role.admin)
    inst = _institution(client, h, "RS", "KIRS")
    created = client.post("/api/v1/users", json={"email": "d@example.org", "full_name": "D", "country_code": "RS", "institution_id": inst}, headers=h).json()
    moved = client.patch(f"/api/v1/users/{created['id']}", json={"country_code": "MK"}, headers=h)
    assert moved.status_code == 200
    assert moved.json()["country_code"] == "MK" and moved.json()["institution_id"] is None


def test_listing_filters_and_keyset_pagination_is_stable(client, factory):
    admin, h = factory.signed_in(Role.admin)
    for i in range(7):
        factory.user(Role.learner, "BA", email=f"page{i:02d}@example.org")
    first = client.get("/api/v1/users?country_code=BA&limit=3", headers=h).json()
    assert [u["email"] for u in first["items"]] == ["page00@example.org", "page01@example.org", "page02@example.org"]
    # A row inserted before the cursor position does not shift the next page.
    factory.user(Role.learner, "BA", email="page00a@example.org")
    second = client.get(first["next"].replace("http://testserver", ""), headers=h).json()
    assert [u["email"] for u in second["items"]] == ["page03@example.org", "page04@example.org", "page05@example.org"]
    third = client.get(f"/api/v1/users?country_code=BA&limit=3&cursor={second['next_cursor']}", headers=h).json()
    assert [u["email"] for u in third["items"]] == ["page06@example.org"]
    assert third["next"] is None and third["next_cursor"] is None


def test_search_is_case_insensitive_for_non_ascii_names(client, factory):
    admin, h = factory.signed_in(Role.admin)
    factory.user(Role.learner, "RS", full_name="Đorđe Šćepanović")
    items = client.get("/api/v1/users", params={"q": "đORĐE"}, headers=h).json()["items"]
    assert [u["full_name"] for u in items] == ["Đorđe Šćepanović"]
    assert client.get("/api/v1/users", params={"q": "%"}, headers=h).json()["items"] == []


@pytest.mark.parametrize("query", ["limit=0", "limit=1000", "cursor=%%%", "cursor=bm90LWpzb24", "role=boss", "is_active=maybe"])
def test_bad_list_parameters_are_4xx(client, factory, query):
    admin, h = factory.signed_in(Role.admin)
    r = client.get(f"/api/v1/users?{query}", headers=h)
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"] == "application/problem+json"


def test_admin_password_reset_revokes_the_users_sessions(client, factory):
    admin, h = factory.signed_in(Role.admin)
    user = factory.user(Role.instructor, "SE")
    user_h = factory.headers(user)
    assert client.post(f"/api/v1/users/{user.id}/password", json={"new_password": "reset-by-the-admin-1"}, headers=h).status_code == 204
    assert client.get("/api/v1/users/me", headers=user_h).status_code == 401
    assert client.post("/api/v1/auth/token", data={"username": user.email, "password": "reset-by-the-admin-1"}).status_code == 200


def test_cannot_deactivate_yourself(client, factory):
    admin, h = factory.signed_in(Role.admin)
    assert client.post(f"/api/v1/users/{admin.id}/deactivate", headers=h).status_code == 403
