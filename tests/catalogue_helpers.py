"""Helpers to build courses through the API in tests."""

from __future__ import annotations

import itertools

_n = itertools.count()


def make_course(client, headers, *, modules: int = 1, publish: bool = True, **fields) -> dict:
    body = {
        "slug": fields.pop("slug", f"course-{next(_n)}-{id(client) % 10000}"),
        "title": fields.pop("title", {"en": "Asylum procedures under the EU acquis", "sr-Latn": "Postupak azila prema pravnim tekovinama EU"}),
        **fields,
    }
    r = client.post("/api/v1/courses", json=body, headers=headers)
    assert r.status_code == 201, r.text
    course = r.json()
    for i in range(modules):
        m = client.post(
            f"/api/v1/courses/{course['id']}/modules",
            json={"title": {"en": f"Module {i + 1}"}, "kind": "resource", "resource_url": f"https://example.org/m{i}.pdf",
                  "resource_mime": "application/pdf"},
            headers=headers,
        )
        assert m.status_code == 201, m.text
    if publish:
        r = client.post(f"/api/v1/courses/{course['id']}/publish", headers=headers)
        assert r.status_code == 200, r.text
    return client.get(f"/api/v1/courses/{course['id']}", headers=headers).json()
