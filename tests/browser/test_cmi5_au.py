"""A cmi5 AU (content_packages/cmi5-return-counselling) played in a real headless chromium against
a real server: launch, fetch, launch data, initialized; leave mid-session; relaunch (the first
session is abandoned, the AU resumes from its bookmark); answer, completed + passed, terminated,
returnURL; then the registration, the learner's course progress and the LRS statements."""

from __future__ import annotations

import pytest

from app.users.models import Role
from tests.packages.builders import zip_folder
from tests.registrations.conftest import launch, play_setup

pytestmark = pytest.mark.browser

VERBS = "http://adlnet.gov/expapi/verbs/"
ADL = "https://w3id.org/xapi/adl/verbs/"
X = {"X-Experience-API-Version": "1.0.3"}


def _wait_ready(page) -> dict:
    page.wait_for_function("() => window.au && (window.au.ready || window.au.errors.length)", timeout=20_000)
    return page.evaluate("() => ({ready: au.ready, errors: au.errors, mode: au.launchData && au.launchData.launchMode,"
                         " page: au.page, resumed: au.resumed, sent: au.sent})")


def test_cmi5_au_in_chromium(live_server, browser):
    # The AU runs on the content origin and calls the LRS and the fetch URL on the API origin (CORS).
    http, factory = live_server.client, live_server.factory
    played = play_setup(http, factory, zip_folder("content_packages/cmi5-return-counselling"))
    return_url = f"{live_server.api}/xapi/about"
    context = browser
    # First session: start, move to page 2, then the window is closed without terminated.
    page = context.new_page()
    page.goto(launch(http, played, return_url=return_url)["launch_url"])
    state = _wait_ready(page)
    assert state == {"ready": True, "errors": [], "mode": "Normal", "page": 0, "resumed": False, "sent": ["initialized"]}
    page.click("#next")
    page.wait_for_function("() => au.page === 1")
    page.evaluate("() => new Promise(r => setTimeout(r, 300))")  # the bookmark PUT
    page.close()
    # Second session: the first is abandoned; the AU resumes on page 2 from its own state document.
    page = context.new_page()
    out = launch(http, played, return_url=return_url)
    page.goto(out["launch_url"])
    state = _wait_ready(page)
    assert state["ready"] and state["resumed"] and state["page"] == 1 and state["errors"] == []
    page.click("#next")
    page.check("input[name=q1][value=b]")
    page.check("input[name=q2][value=a]")
    page.click("#submit")
    page.wait_for_function("() => au.sent.includes('passed') || au.errors.length")
    assert page.evaluate("() => au.errors") == []
    assert page.text_content("#result") == "Score: 2/2"
    page.click("#exit")
    page.wait_for_url(return_url, timeout=20_000)
    assert '"version"' in page.content()
    page.close()
    # What the LMS made of it.
    registration = out["registration_id"]
    reg = http.get(f"/api/v1/registrations/{registration}", headers=played.learner_headers).json()
    assert reg["status"] == "passed" and reg["score_scaled"] == 1.0
    assert reg["attempts"][0]["completion_status"] == "completed" and reg["attempts"][0]["finished_at"]
    [dash] = http.get("/api/v1/me/courses", headers=played.learner_headers).json()
    assert dash["status"] == "completed"
    _, admin_h = factory.signed_in(Role.admin)
    statements = http.get("/xapi/statements", params={"registration": registration, "ascending": "true", "limit": 100},
                          headers={**admin_h, **X}).json()["statements"]
    verbs = [s["verb"]["id"].rsplit("/", 1)[1] for s in statements]
    # moveOn CompletedAndPassed is met at `passed`: the block and the course are satisfied there.
    assert verbs == ["launched", "initialized", "abandoned", "launched", "initialized", "completed", "passed",
                     "satisfied", "satisfied", "terminated"]
    assert [s["object"]["definition"]["type"].rsplit("/", 1)[1] for s in statements[7:9]] == ["block", "course"]
    assert statements[5]["result"]["duration"].startswith("PT") and statements[6]["result"]["score"]["scaled"] == 1
    sessions = [s["context"]["extensions"]["https://w3id.org/xapi/cmi5/context/extensions/sessionid"] for s in statements]
    assert sessions[0] == sessions[1] == sessions[2] != sessions[3]
    assert len(set(sessions[3:])) == 1
    # Relaunched after satisfaction: Review mode, and the AU records nothing towards it.
    page = context.new_page()
    page.goto(launch(http, played)["launch_url"])
    state = _wait_ready(page)
    assert state["mode"] == "Review" and state["errors"] == []
    page.close()
