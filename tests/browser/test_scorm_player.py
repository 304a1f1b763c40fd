"""The SCORM player in a real browser: SCOs with real JavaScript find the API by walking
window.parent, initialize, read their bookmark, set values and commit; the learner closes the page
mid-session (the player's pagehide beacon saves the data), comes back (entry "resume" with the
bookmark), finishes, and the API reports the attempt, the progress and the LRS statements."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from app.scorm.datamodel import ScormError, get_value, set_value
from app.users.models import Role
from tests.packages import builders
from tests.registrations.conftest import launch, play_setup

pytestmark = pytest.mark.browser

XAPI = {"X-Experience-API-Version": "1.0.3"}


def open_player(browser, launch_url: str, sco_file: str):
    page = browser.new_page()
    page.goto(launch_url)
    return page, running_sco(page, sco_file)


def running_sco(page, sco_file: str):
    """The SCO's frame once it has initialized (its page says "running")."""
    page.frame_locator("#sco").locator("#state", has_text="running").wait_for()
    return next(f for f in page.frames if f.url.split("?", 1)[0].endswith("/" + sco_file))


def after_navigation(page, old_url: str, sco_file: str):
    page.wait_for_url(lambda url: url != old_url)
    return running_sco(page, sco_file)


def player_config(page) -> dict:
    return page.evaluate("JSON.parse(document.getElementById('rmtc-config').textContent)")


def nav_valid(frame) -> list[str]:
    """GetValue of adl.nav.request_valid.continue, .previous and .choice.{target=INDICATORS}."""
    return frame.evaluate("['continue', 'previous', 'choice.{target=INDICATORS}']"
                          ".map(r => sco.get('adl.nav.request_valid.' + r).result)")


def click(frame, name: str) -> None:
    frame.get_by_role("button", name=name).click()


def _code(fn, *args) -> int:
    try:
        fn(*args)
    except ScormError as exc:
        return exc.code
    return 0


def assert_refusals_match_python(frame, version: str, cmi: dict[str, str], sets: list[tuple[str, str]],
                                 gets: list[str]) -> None:
    """SetValue/GetValue in the browser answer "false"/"" with the error code Python's data model gives."""
    answers = frame.evaluate("([sets, gets]) => [sets.map(s => sco.set(s[0], s[1])), gets.map(g => sco.get(g))]",
                             [sets, gets])
    for (element, value), answer in zip(sets, answers[0], strict=True):
        code = _code(set_value, version, dict(cmi), element, value)
        assert code != 0, (element, value)
        assert answer == {"result": "false", "error": str(code)}, (element, value[:40])
    for element, answer in zip(gets, answers[1], strict=True):
        code = _code(get_value, version, cmi, element)
        assert code != 0, element
        assert answer == {"result": "", "error": str(code)}, element


def statement_verbs(server, registration_id: str) -> list[str]:
    _, admin = server.factory.signed_in(Role.admin)
    r = server.client.get("/xapi/statements", params={"registration": registration_id, "ascending": "true", "limit": 500},
                          headers={**admin, **XAPI})
    assert r.status_code == 200, r.text
    return [s["verb"]["id"].rsplit("/", 1)[1] for s in r.json()["statements"]]


def module_progress(server, played) -> tuple[dict, dict]:
    """The learner's dashboard entry for the course and the package module's progress."""
    mine = server.client.get("/api/v1/me/courses", headers=played.learner_headers)
    assert mine.status_code == 200, mine.text
    entry = next(e for e in mine.json() if e["course_id"] == played.course["id"])
    detail = server.client.get(f"/api/v1/enrolments/{entry['id']}", headers=played.learner_headers)
    assert detail.status_code == 200, detail.text
    return entry, next(m for m in detail.json()["modules"] if m["module_id"] == played.module["id"])


def close_mid_session(server, page, ready) -> dict[str, str]:
    """Close the tab like a learner would: the player's beacons save the data and end the session."""
    runtime = player_config(page)["runtime"]
    page.close(run_before_unload=True)
    saved = server.wait_for_cmi(runtime, ready)
    deadline = time.monotonic() + 15
    while (late := httpx.post(server.content + runtime + "/commit", json={"data": {}})).status_code == 200:
        assert time.monotonic() < deadline, "the session was not ended"
        time.sleep(0.1)
    assert late.status_code == 409 and late.json()["code"] == "session-ended", late.text
    return saved


def test_scorm12_suspend_by_closing_the_page_resume_and_pass(live_server, browser):
    server = live_server
    played = play_setup(server.client, server.factory, builders.scorm12_playable())
    first = launch(server.client, played)
    assert first["launch_url"].startswith(server.content + "/play/")
    page, sco = open_player(browser, first["launch_url"], "index.html")
    assert sco.evaluate("sco.found") is True
    assert sco.evaluate("sco.started") == {"init": {"result": "true", "error": "0"}, "entry": "ab-initio",
                                           "location": "", "suspend_data": ""}
    click(sco, "Next page")
    click(sco, "Next page")
    assert sco.evaluate("sco.get('cmi.core.lesson_location')") == {"result": "page-3", "error": "0"}

    saved = close_mid_session(server, page, lambda c: c.get("cmi.core.lesson_location") == "page-3")
    assert saved["cmi.core.exit"] == "suspend" and json.loads(saved["cmi.suspend_data"])["page"] == 3

    second = launch(server.client, played)
    assert (second["attempt_id"], second["mode"]) == (first["attempt_id"], "normal")
    page, sco = open_player(browser, second["launch_url"], "index.html")
    started = sco.evaluate("sco.started")
    assert started["entry"] == "resume" and started["location"] == "page-3"
    assert started["suspend_data"] == saved["cmi.suspend_data"] and "šđčćž" in started["suspend_data"]

    # Reloading the page (F5) mid-session: the reloaded player resumes with what the SCO had set.
    click(sco, "Next page")
    sco.evaluate("sco.call('commit')")
    click(sco, "Next page")
    page.reload()
    sco = running_sco(page, "index.html")
    started = sco.evaluate("sco.started")
    assert (started["init"]["result"], started["entry"], started["location"]) == ("true", "resume", "page-5")
    click(sco, "Next page")
    assert sco.evaluate("sco.call('commit')") == {"result": "true", "error": "0"}
    assert server.wait_for_cmi(player_config(page)["runtime"], lambda c: True)["cmi.core.lesson_location"] == "page-6"

    cmi = server.runtime_cmi(player_config(page)["runtime"])
    assert_refusals_match_python(sco, "1.2", cmi, sets=[
        ("cmi.core.score.raw", "ninety"), ("cmi.core.score.raw", "101"), ("cmi.core.lesson_status", "not attempted"),
        ("cmi.core.lesson_status", "done"), ("cmi.core.student_id", "someone-else"), ("cmi.core.bogus", "1"),
        ("cmi.core._children", "x"), ("cmi.interactions.3.id", "q"), ("cmi.core.exit", "later"),
        ("cmi.suspend_data", "x" * 64001), ("cmi.interactions.0.type", "essay"),
    ], gets=["cmi.core.exit", "cmi.core.session_time", "cmi.core.score._count", "cmi.core.lesson_status._children",
             "cmi.objectives.0.id", "cmi.nothing"])

    click(sco, "Finish")
    sco.locator("#state", has_text="finished true").wait_for()
    registration = server.client.get(f"/api/v1/registrations/{first['registration_id']}", headers=played.learner_headers).json()
    attempt = registration["attempts"][0]
    assert (registration["status"], registration["score_scaled"], registration["attempt_count"]) == ("passed", 0.9, 1)
    assert attempt["completion_status"] == "completed" and attempt["success_status"] == "passed"
    assert attempt["finished_at"] and attempt["total_time_seconds"] >= 5.25

    entry, module = module_progress(server, played)
    assert (module["status"], module["score_scaled"], module["satisfied"]) == ("passed", 0.9, True)
    assert entry["progress"] == 1.0

    verbs = statement_verbs(server, first["registration_id"])
    assert verbs[0] == "initialized" and verbs[-1] == "terminated"
    assert {"initialized", "suspended", "resumed", "responded", "passed", "scored", "terminated"} <= set(verbs)
    assert verbs.index("suspended") < verbs.index("resumed") < verbs.index("passed")


def test_scorm2004_two_scos_resume_continue_menu_and_rollup(live_server, browser):
    server = live_server
    played = play_setup(server.client, server.factory, builders.scorm2004_playable())
    first = launch(server.client, played)
    assert first["unit"] == "INDICATORS"
    page, sco = open_player(browser, first["launch_url"], "indicators.html")
    assert [o for o in page.locator("#items option").all_inner_texts()] == ["Indicators", "Referral"]
    assert sco.evaluate("sco.started") == {"init": {"result": "true", "error": "0"}, "entry": "ab-initio",
                                           "location": "", "suspend_data": ""}
    assert sco.evaluate("sco.get('cmi.score.raw')") == {"result": "", "error": "403"}
    assert nav_valid(sco) == ["true", "false", "true"]
    click(sco, "Next page")
    # This SCO terminates itself from its unload handler, after the player's pagehide.
    sco.evaluate("sco.atUnload = [['cmi.location', 'page-2-end'], ['cmi.session_time', 'PT2S']]")
    saved = close_mid_session(server, page, lambda c: c.get("cmi.location") == "page-2-end")
    assert saved["cmi.exit"] == "suspend" and saved["cmi.session_time"] == "PT2S"

    # Back where they left off: the same unit, resumed.
    second = launch(server.client, played)
    assert (second["unit"], second["attempt_id"]) == ("INDICATORS", first["attempt_id"])
    page, sco = open_player(browser, second["launch_url"], "indicators.html")
    started = sco.evaluate("sco.started")
    assert (started["entry"], started["location"], started["suspend_data"]) == ("resume", "page-2-end",
                                                                                saved["cmi.suspend_data"])

    cmi = server.runtime_cmi(player_config(page)["runtime"])
    assert_refusals_match_python(sco, "2004", cmi, sets=[
        ("cmi.score.scaled", "2"), ("cmi.score.scaled", "high"), ("cmi.completion_status", "done"),
        ("cmi.success_status", "Passed"), ("cmi.interactions.0.type", "choice"), ("cmi.learner_id", "someone-else"),
        ("cmi.bogus", "1"), ("cmi._version", "2.0"), ("adl.nav.request", "start"), ("cmi.objectives.3.id", "o"),
        ("cmi.exit", "quit"), ("cmi.objectives.0.score.scaled", "0.5"), ("cmi.interactions._count", "1"),
        ("", "x"), ("cmi.suspend_data", "x" * 64001),
    ], gets=["cmi.exit", "cmi.session_time", "cmi.score.raw", "cmi.score._count", "cmi.interactions.0.id",
             "adl.nav.request_valid.choice.intro", "cmi.nothing", ""])

    # Finish the first SCO: it asks to continue, the player delivers the second.
    url = page.url
    click(sco, "Finish")
    sco = after_navigation(page, url, "referral.html")
    assert sco.evaluate("sco.started")["entry"] == "ab-initio"
    assert player_config(page)["unit"] == "REFERRAL"
    assert nav_valid(sco) == ["false", "true", "true"]

    # The menu goes back to the first SCO (its data is still there), then to the second.
    url = page.url
    page.select_option("#items", "INDICATORS")
    sco = after_navigation(page, url, "indicators.html")
    assert sco.evaluate("sco.started")["entry"] == ""
    assert sco.evaluate("['cmi.completion_status', 'cmi.success_status', 'cmi.score.scaled'].map(e => sco.get(e).result)") \
        == ["completed", "passed", "0.9"]
    url = page.url
    page.select_option("#items", "REFERRAL")
    sco = after_navigation(page, url, "referral.html")
    click(sco, "Finish")
    sco.locator("#state", has_text="finished true").wait_for()
    page.locator("#status", has_text="Finished").wait_for()

    registration = server.client.get(f"/api/v1/registrations/{first['registration_id']}", headers=played.learner_headers).json()
    attempt = registration["attempts"][0]
    assert (registration["status"], registration["attempt_count"]) == ("passed", 1)
    assert registration["score_scaled"] == pytest.approx(0.8)  # the two SCOs' scaled scores, averaged
    assert (attempt["completion_status"], attempt["success_status"]) == ("completed", "passed")
    assert attempt["finished_at"] and attempt["total_time_seconds"] >= 2 + 5.25 * 2

    entry, module = module_progress(server, played)
    assert module["status"] == "passed" and module["score_scaled"] == pytest.approx(0.8)
    assert entry["progress"] == 1.0

    verbs = statement_verbs(server, first["registration_id"])
    assert verbs[0] == "initialized" and verbs[-1] == "terminated"
    assert {"initialized", "suspended", "resumed", "responded", "completed", "passed", "scored", "terminated"} <= set(verbs)
    assert verbs.index("suspended") < verbs.index("resumed") < verbs.index("completed")


def test_menu_leaves_out_items_hidden_from_choice(live_server, browser):
    """A package whose pages never call the API: the menu offers the visible items only, and
    choosing one delivers it."""
    server = live_server
    played = play_setup(server.client, server.factory, builders.scorm2004())
    page = browser.new_page()
    page.goto(launch(server.client, played)["launch_url"])
    page.frame_locator("#sco").locator("h1", has_text="Lesson").wait_for()
    assert page.locator("#items option").all_inner_texts() == ["Indicators", "Referral"]
    url = page.url
    page.select_option("#items", "MOD2")
    page.wait_for_url(lambda u: u != url)
    assert player_config(page)["unit"] == "MOD2" and "chapter=2" in page.frame_locator("#sco").owner.get_attribute("src")
    assert page.locator("#items option:checked").inner_text() == "Referral"


def test_a_sco_suspending_without_a_navigation_request_stays_put(live_server, browser):
    """Exit=suspend with no adl.nav.request pauses the course on that SCO (the learner picks what
    comes next); a normal exit flows on to the next item."""
    server = live_server
    played = play_setup(server.client, server.factory, builders.scorm2004_playable())
    page, sco = open_player(browser, launch(server.client, played)["launch_url"], "indicators.html")
    url = page.url
    result = sco.evaluate("sco.finish([['cmi.exit', 'suspend']])")
    assert result["finish"] == {"result": "true", "error": "0"} and result["failed"] == []
    page.locator("#status", has_text="Saved").wait_for()
    page.wait_for_timeout(500)
    assert page.url == url and player_config(page)["unit"] == "INDICATORS"
    page.close()
    page, sco = open_player(browser, launch(server.client, played)["launch_url"], "indicators.html")
    assert sco.evaluate("sco.started.entry") == "resume"
    url = page.url
    sco.evaluate("sco.finish([['cmi.exit', 'normal']])")
    after_navigation(page, url, "referral.html")
    assert player_config(page)["unit"] == "REFERRAL"
