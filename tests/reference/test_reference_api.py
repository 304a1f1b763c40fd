"""Reference data: seeded by the migration, readable by everyone signed in, edited by admins."""

from __future__ import annotations

import pytest

from app.users.models import Role

FOOTNOTE = (
    "This designation is without prejudice to positions on status, and is in line with UNSCR 1244/1999 "
    "and the ICJ Opinion on the Kosovo declaration of independence."
)


def test_countries_are_seeded_with_their_programme_roles(client, factory):
    _, h = factory.signed_in(Role.learner, "ME")
    countries = {c["code"]: c for c in client.get("/api/v1/countries", headers=h).json()}
    roles = {code: c["programme_role"] for code, c in countries.items()}
    assert {c for c, r in roles.items() if r == "beneficiary"} == {"RS", "ME", "MK", "BA"}
    assert {c for c, r in roles.items() if r == "prospective_beneficiary"} == {"AL", "XK"}
    assert {c for c, r in roles.items() if r == "associated_partner"} == {"SI", "AT", "GR"}
    assert {c for c, r in roles.items() if r == "lead_partner"} == {"SE"}
    assert {c for c, r in roles.items() if r == "partner_training_centre"} == {"MT", "AZ", "TR", "TZ"}


def test_kosovo_is_always_designated_with_asterisk_and_footnote(client, factory):
    _, h = factory.signed_in(Role.learner)
    xk = client.get("/api/v1/countries/XK", headers=h).json()
    assert xk["name"] == "Kosovo*" and xk["label"] == "Kosovo*" and xk["footnote"] == FOOTNOTE
    assert client.get("/api/v1/countries/XK?lang=sq", headers=h).json()["label"] == "Kosova*"
    _, admin_h = factory.signed_in(Role.admin)
    for body in ({"name": "Kosovo"}, {"footnote": None}, {"footnote": "changed"}, {"names": {"sq": "Kosova"}}):
        r = client.patch("/api/v1/countries/XK", json=body, headers=admin_h)
        assert r.status_code == 422, body
    assert client.get("/api/v1/countries/XK", headers=h).json() == xk


def test_labels_follow_accept_language_and_lang_parameter(client, factory):
    _, h = factory.signed_in(Role.learner)
    assert client.get("/api/v1/countries/RS", headers={**h, "Accept-Language": "sr-Cyrl-RS, en;q=0.5"}).json()["label"] == "Србија"
    assert client.get("/api/v1/countries/RS?lang=sr", headers=h).json()["label"] in ("Srbija", "Србија")
    assert client.get("/api/v1/countries/RS", headers={**h, "Accept-Language": "de"}).json()["label"] == "Serbia"
    areas = client.get("/api/v1/thematic-areas?lang=sr-Latn", headers=h).json()
    assert next(a for a in areas if a["code"] == "asylum")["label"] == "Azil"


def test_institutions_and_languages_are_seeded(client, factory):
    _, h = factory.signed_in(Role.learner)
    institutions = client.get("/api/v1/institutions", headers=h).json()
    names = {i["name"]["en"] for i in institutions}
    assert "Commissariat for Refugees and Migration of the Republic of Serbia" in names
    assert "Ministry of Security of Bosnia and Herzegovina" in names
    assert {i["country_code"] for i in client.get("/api/v1/institutions?country_code=MK", headers=h).json()} == {"MK"}
    tags = {lang["tag"] for lang in client.get("/api/v1/languages", headers=h).json()}
    assert {"en", "sr-Latn", "sr-Cyrl", "mk", "bs", "hr", "cnr", "sq", "sl", "de", "el", "sv", "tr"} <= tags


def test_reference_data_needs_sign_in(client):
    assert client.get("/api/v1/countries").status_code == 401


@pytest.mark.parametrize("role", [Role.coordinator, Role.instructor, Role.learner])
def test_only_admins_edit_reference_data(client, factory, role):
    _, h = factory.signed_in(role)
    assert client.post("/api/v1/thematic-areas", json={"code": "x-area", "name": {"en": "X"}}, headers=h).status_code == 403
    assert client.patch("/api/v1/countries/RS", json={"name": "Changed"}, headers=h).status_code == 403
    assert client.get("/api/v1/countries/RS", headers=h).json()["name"] == "Serbia"


def test_admin_edits_reference_data(client, factory):
    _, h = factory.signed_in(Role.admin)
    r = client.post("/api/v1/countries", json={"code": "HR", "name": "Croatia", "names": {"hr": "Hrvatska"}, "programme_role": "other"}, headers=h)
    assert r.status_code == 201
    assert client.post("/api/v1/countries", json={"code": "HR", "name": "Croatia", "programme_role": "other"}, headers=h).status_code == 409
    inst = client.post("/api/v1/institutions", json={"country_code": "HR", "acronym": "MUP-HR", "name": {"en": "Ministry of the Interior of Croatia", "hr": "Ministarstvo unutarnjih poslova"}}, headers=h)
    assert inst.status_code == 201
    dup = client.post("/api/v1/institutions", json={"country_code": "HR", "acronym": "MUP-HR", "name": {"en": "Again"}}, headers=h)
    assert dup.status_code == 409
    area = client.post("/api/v1/thematic-areas", json={"code": "labour-migration", "name": {"en": "Labour migration", "sr-Latn": "Radne migracije"}}, headers=h)
    assert area.status_code == 201
    patched = client.patch("/api/v1/thematic-areas/labour-migration", json={"is_active": False}, headers=h)
    assert patched.status_code == 200 and patched.json()["is_active"] is False
    assert "labour-migration" not in {a["code"] for a in client.get("/api/v1/thematic-areas", headers=h).json()}
    lang = client.post("/api/v1/languages", json={"tag": "mt", "name": "Maltese", "native_name": "Malti"}, headers=h)
    assert lang.status_code == 201
    # Deactivating a country keeps its data but it can no longer take new users.
    assert client.patch("/api/v1/countries/HR", json={"is_active": False}, headers=h).status_code == 200
    created = client.post("/api/v1/users", json={"email": "hr@example.org", "full_name": "H", "country_code": "HR"}, headers=h)
    assert created.status_code == 422


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/v1/thematic-areas", {"code": "Bad Code", "name": {"en": "X"}}),
        ("/api/v1/thematic-areas", {"code": "ok-code", "name": {}}),
        ("/api/v1/thematic-areas", {"code": "ok-code", "name": {"not a tag!": "X"}}),
        ("/api/v1/thematic-areas", {"code": "ok-code", "name": {"en": "   "}}),
        ("/api/v1/institutions", {"country_code": "ZZ", "acronym": "X", "name": {"en": "X"}}),
        ("/api/v1/languages", {"tag": "english language", "name": "X", "native_name": "X"}),
        ("/api/v1/countries", {"code": "XXX", "name": "X", "programme_role": "other"}),
        ("/api/v1/countries", {"code": "QQ", "name": "X", "programme_role": "ruler"}),
    ],
)
def test_invalid_reference_bodies_are_422(client, factory, path, body):
    _, h = factory.signed_in(Role.admin)
    r = client.post(path, json=body, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["errors"]


def test_unknown_ids_are_404(client, factory):
    _, h = factory.signed_in(Role.admin)
    assert client.get("/api/v1/countries/QQ", headers=h).status_code == 404
    assert client.get("/api/v1/thematic-areas/nothing", headers=h).status_code == 404
    assert client.get("/api/v1/institutions/not-a-uuid", headers=h).status_code == 422
    assert client.patch("/api/v1/languages/%25", json={"name": "x"}, headers=h).status_code == 404
