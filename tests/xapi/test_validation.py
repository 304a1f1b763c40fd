"""Statement validation: what a conformant LRS must accept and refuse (xAPI 1.0.3 Data, 2.0.0)."""

from __future__ import annotations

import copy

import pytest

from app.xapi.validation import StatementInvalid, ifi_of, validate_statement

# Does not use the test database: runs once, in the SQLite pass (deselected in the PostgreSQL pass).
pytestmark = pytest.mark.db_independent

BASE = {
    "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0",
    "actor": {"objectType": "Agent", "name": "Ana Jovanović", "mbox": "mailto:ana@kirs.gov.rs"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed", "sr-Latn": "završio"}},
    "object": {
        "id": "https://rmtc.example/courses/asylum/q1",
        "definition": {
            "name": {"en": "Question 1"},
            "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
            "interactionType": "choice",
            "correctResponsesPattern": ["a[,]b"],
            "choices": [{"id": "a", "description": {"en": "A"}}, {"id": "b", "description": {"en": "B"}}],
        },
    },
    "result": {"score": {"scaled": 0.8, "raw": 8, "min": 0, "max": 10}, "success": True, "completion": True,
               "duration": "PT1H2M3.45S", "response": "a[,]b", "extensions": {"https://rmtc.example/x": None}},
    "context": {
        "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
        "instructor": {"mbox_sha1sum": "a" * 40},
        "team": {"objectType": "Group", "name": "Team", "member": [{"openid": "https://id.example/ivana"}]},
        "contextActivities": {"parent": {"id": "https://rmtc.example/courses/asylum"},
                              "grouping": [{"id": "https://rmtc.example/programme"}]},
        "revision": "v2", "platform": "RMTC", "language": "sr-Latn",
        "statement": {"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"},
        "extensions": {"https://rmtc.example/country": "RS"},
    },
    "timestamp": "2026-03-02T09:15:00.123+01:00",
    "attachments": [{"usageType": "http://adlnet.gov/expapi/attachments/signature", "display": {"en": "sig"},
                     "contentType": "application/octet-stream", "length": 100, "sha2": "b" * 64}],
}


def _with(path: str, value, base=BASE):
    s = copy.deepcopy(base)
    target = s
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return s


_DELETE = object()


def test_a_rich_valid_statement():
    validate_statement(copy.deepcopy(BASE))


@pytest.mark.parametrize(
    "path,value,where",
    [
        ("actor", None, "actor"),
        ("actor.mbox", "ana@kirs.gov.rs", "actor.mbox"),
        ("actor.openid", "https://id.example/ana", "actor"),  # two IFIs
        ("actor.objectType", "agent", "actor.objectType"),  # enumerations are case-exact
        ("actor.Name", "x", "actor.Name"),  # keys are case-exact
        ("verb.id", "completed", "verb.id"),
        ("verb.display", {"not a tag": "x"}, "verb.display.not a tag"),
        ("verb.display", {"en": None}, "verb.display.en"),
        ("object.id", "", "object.id"),
        ("object.definition.interactionType", "choices", "object.definition.interactionType"),
        ("object.definition.scale", [{"id": "1"}], "object.definition.scale"),
        ("object.definition.choices", [{"id": "a"}, {"id": "a"}], "object.definition.choices[1].id"),
        ("result.score.scaled", 1.5, "result.score.scaled"),
        ("result.score.raw", 11, "result.score.raw"),
        ("result.score.raw", "8", "result.score.raw"),
        ("result.success", "true", "result.success"),
        ("result.duration", "1 hour", "result.duration"),
        ("context.registration", "not-a-uuid", "context.registration"),
        ("context.team", {"mbox": "mailto:t@x.org"}, "context.team.objectType"),
        ("context.language", "english!", "context.language"),
        ("context.contextActivities.parent", "https://x", "context.contextActivities.parent"),
        ("context.contextActivities.cousin", [], "context.contextActivities.cousin"),
        ("timestamp", "2026-03-02 09:15", "timestamp"),
        ("timestamp", "2026-13-02T09:15:00Z", "timestamp"),
        ("timestamp", "2026-03-02T09:15:00-00:00", "timestamp"),
        ("attachments.0.sha2", "xyz", "attachments[0].sha2"),
        ("attachments.0.length", "100", "attachments[0].length"),
        ("id", "fd41c918-b88b-4b20-a0a5", "id"),
        ("version", "0.95", "version"),
        ("extra", 1, "extra"),
        ("result.response", None, "result.response"),
    ],
)
def test_invalid_statements_name_the_field(path, value, where):
    with pytest.raises(StatementInvalid) as info:
        validate_statement(_with(path, value))
    assert info.value.path == where, info.value


def test_required_properties():
    for key in ("actor", "verb", "object"):
        with pytest.raises(StatementInvalid):
            validate_statement(_with(key, _DELETE))


def test_revision_and_platform_only_with_an_activity_object():
    s = _with("object", {"objectType": "Agent", "mbox": "mailto:x@example.org"})
    with pytest.raises(StatementInvalid, match="revision"):
        validate_statement(s)
    s["context"].pop("revision")
    s["context"].pop("platform")
    validate_statement(s)


def test_substatements():
    base = _with("context", _DELETE)
    sub = {"objectType": "SubStatement", "actor": {"mbox": "mailto:a@example.org"},
           "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"}, "object": {"id": "https://x.org/a"}}
    validate_statement(_with("object", sub, base))
    for key, value in (("id", "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"), ("stored", "2026-01-01T00:00:00Z"),
                       ("version", "1.0.0"), ("authority", {"mbox": "mailto:a@example.org"})):
        with pytest.raises(StatementInvalid):
            validate_statement(_with("object", {**sub, key: value}, base))
    nested = {**sub, "object": dict(sub)}
    with pytest.raises(StatementInvalid, match="SubStatement"):
        validate_statement(_with("object", nested, base))


def test_groups():
    anonymous = {"objectType": "Group", "member": [{"mbox": "mailto:a@example.org"}]}
    validate_statement(_with("actor", anonymous))
    with pytest.raises(StatementInvalid):
        validate_statement(_with("actor", {"objectType": "Group"}))
    with pytest.raises(StatementInvalid):
        validate_statement(_with("actor", {"objectType": "Group", "member": [anonymous]}))
    identified = {"objectType": "Group", "account": {"homePage": "https://rmtc.example", "name": "team-1"}}
    validate_statement(_with("actor", identified))


def test_account_and_ifi_normalisation():
    with pytest.raises(StatementInvalid):
        validate_statement(_with("actor", {"account": {"homePage": "rmtc.example", "name": "x"}}))
    with pytest.raises(StatementInvalid):
        validate_statement(_with("actor", {"account": {"homePage": "https://rmtc.example"}}))
    assert ifi_of({"mbox": "mailto:Ana@KIRS.gov.rs"}) == "mbox:mailto:ana@kirs.gov.rs"
    assert ifi_of({"account": {"homePage": "https://rmtc.example", "name": "42"}}) == "account:https://rmtc.example|42"


def test_nulls_are_allowed_only_inside_extensions():
    validate_statement(_with("context.extensions", {"https://x.org/e": None}))
    with pytest.raises(StatementInvalid):
        validate_statement(_with("context.platform", None))


def test_voiding_statement_needs_a_statement_ref():
    voiding = _with("verb", {"id": "http://adlnet.gov/expapi/verbs/voided"})
    with pytest.raises(StatementInvalid):
        validate_statement(voiding)
    voiding["object"] = {"objectType": "StatementRef", "id": "fd41c918-b88b-4b20-a0a5-a4c32391aaa0"}
    voiding.pop("context")
    validate_statement(voiding)


@pytest.mark.parametrize("value", ["P1Y2M3DT4H5M6.7S", "PT0S", "P4W", "PT1.5H", "P0D"])
def test_valid_durations(value):
    validate_statement(_with("result.duration", value))


@pytest.mark.parametrize("value", ["P", "PT", "1H", "P1H", "PT1D", "P1W2D", ""])
def test_invalid_durations(value):
    with pytest.raises(StatementInvalid):
        validate_statement(_with("result.duration", value))


@pytest.mark.parametrize("value", ["2026-03-02T09:15:00Z", "2026-03-02T09:15:00.123456789+05:30", "2026-03-02T09:15:00+0100", "2026-03-02T09:15:00"])
def test_valid_timestamps(value):
    validate_statement(_with("timestamp", value))


def test_xapi_2_context_agents_and_groups():
    ctx = {"contextAgents": [{"objectType": "contextAgent", "agent": {"mbox": "mailto:a@example.org"},
                              "relevantTypes": ["https://rmtc.example/types/mentor"]}],
           "contextGroups": [{"objectType": "contextGroup", "group": {"objectType": "Group", "member": [{"mbox": "mailto:b@example.org"}]}}]}
    validate_statement(_with("context", ctx), version="2.0.0")
    with pytest.raises(StatementInvalid):
        validate_statement(_with("context", ctx), version="1.0.3")


def test_a_batch_validates_repeated_agents_verbs_and_activities_once():
    seen: set[bytes] = set()
    validate_statement(copy.deepcopy(BASE), seen=seen)
    assert len(seen) >= 4  # actor, verb, object, context activities (and the instructor)
    remembered = set(seen)
    validate_statement(copy.deepcopy(BASE), seen=seen)
    assert seen == remembered
    # Only valid values are remembered, and a value differing in anything is checked again.
    for path, bad in [(("verb", "id"), "completed"), (("object", "definition", "name"), {"not a tag!": "x"}),
                      (("actor", "mbox"), "ana@kirs.gov.rs"), (("context", "contextActivities", "parent", "id"), "x")]:
        s = copy.deepcopy(BASE)
        holder = s
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = bad
        with pytest.raises(StatementInvalid):
            validate_statement(s, seen=seen)
        with pytest.raises(StatementInvalid):
            validate_statement(s, seen=seen)
    assert seen == remembered
