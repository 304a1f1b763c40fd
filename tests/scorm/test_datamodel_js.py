"""The player's data model (app/registrations/player/datamodel.js), run in node, answers every
GetValue/SetValue exactly as the Python interpreter (app.scorm.datamodel), the oracle: same error
code, same value, same stored data after every SetValue.

Cases: a systematic sweep (every element of the rules with indices before, at and beyond the array
counts, keywords on every known path, malformed names) x the sample values of every type the element
can take, on sessions before and after arrays are created and at their limits; plus random sequences
of calls replayed on one evolving CMI dict (array creation, dependencies, uniqueness, type changes).
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import app
from app.scorm.datamodel import ScormError, export_rules, get_value, initial_cmi, set_value
from tests.scorm.test_datamodel import SAMPLES, s12, s2004

NODE = shutil.which("node")
DATAMODEL_JS = Path(app.__file__).parent / "registrations" / "player" / "datamodel.js"

pytestmark = [pytest.mark.db_independent, pytest.mark.skipif(NODE is None, reason="node is not installed")]

HARNESS = r"""
global.window = global;
require(process.argv[2]);
const data = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const models = {};
for (const v of Object.keys(data.rules)) models[v] = window.RMTCDataModel(data.rules[v]);
function diff(before, after) {
  const out = {};
  for (const k of Object.keys(after)) if (before[k] !== after[k]) out[k] = after[k];
  for (const k of Object.keys(before)) if (!(k in after)) out[k] = null;
  return out;
}
const out = data.runs.map(run => {
  const model = models[run.version];
  const base = data.states[run.state];
  let cmi = Object.assign({}, base);
  const results = run.ops.map(([op, element, value, names]) => {
    if (!run.sequential) cmi = Object.assign({}, base);
    if (op === 'get') { const r = model.get(cmi, element, names); return [r.error, r.value]; }
    const code = model.set(cmi, element, data.values[value], names);
    return run.sequential ? [code] : [code, diff(base, cmi)];
  });
  return run.sequential ? {results, final: diff(base, cmi)} : {results};
});
process.stdout.write(JSON.stringify(out));
"""

GENERIC = ["", "x", "0", "1", "-1", "0.5", "100", "true", "unknown", "completed", "passed", "choice", "a[,]b", "a[.]b",
           "{lang=en}x", "urn:x:y", " 1", "1 ", "é", "😀", "\u2028", "a\n"]
NON_STRINGS = [5, None, True, 0.5]


def _diff(before: dict, after: dict) -> dict:
    out = {k: v for k, v in after.items() if before.get(k) != v or k not in before}
    out.update({k: None for k in before if k not in after})
    return out


def _python(version: str, cmi: dict, op: str, element, value, names):
    """One call on the oracle: (code, value) for get, code for set (cmi mutated on success)."""
    try:
        if op == "get":
            return 0, get_value(version, cmi, element, hidden=names or ())
        set_value(version, cmi, element, value, locked=names or ())
        return 0, None
    except ScormError as exc:
        return exc.code, ("" if op == "get" else None)


# ---------------------------------------------------------------------------------------------
# Sessions to run the calls on
# ---------------------------------------------------------------------------------------------


def _filled(version: str, cmi: dict, pairs) -> dict:
    for element, value in pairs:
        set_value(version, cmi, element, value)
    return cmi


def _typed(version: str, fresh) -> dict[str, dict[str, str]]:
    """A session with one interaction of each type."""
    return {f"typed:{t}": _filled(version, fresh(), [("cmi.interactions.0.id", "q1"), ("cmi.interactions.0.type", t)])
            for t in export_rules(version)["types"]["interaction_type"]["vocab"]}


def _states_12() -> dict[str, dict[str, str]]:
    states = {
        "new": s12(),
        "resumed": initial_cmi("1.2", learner_id="u-7", learner_name="Marko M.", entry="resume", credit="no-credit",
                               mode="review", launch_data="lang=sr", mastery_score=80, max_time_allowed="00:30:00",
                               time_limit_action="exit,message", total_time=123456, suspend_data="s", location="p2",
                               comments_from_lms="Dobrodošli"),
        "untyped": _filled("1.2", s12(), [("cmi.interactions.0.id", "q1")]),
        "records": _filled("1.2", s12(), [
            ("cmi.objectives.0.id", "o1"), ("cmi.objectives.0.status", "passed"), ("cmi.objectives.1.score.raw", "5"),
            ("cmi.interactions.0.id", "q1"), ("cmi.interactions.0.type", "choice"),
            ("cmi.interactions.0.objectives.0.id", "o1"), ("cmi.interactions.0.correct_responses.0.pattern", "a,b"),
            ("cmi.interactions.0.student_response", "a"), ("cmi.interactions.1.student_response", "maybe"),
            ("cmi.core.lesson_status", "incomplete"), ("cmi.core.score.raw", "50"),
        ]),
        "full": _filled("1.2", s12(), [(f"cmi.interactions.{i}.id", f"q{i}") for i in range(500)]
                        + [(f"cmi.objectives.{i}.id", f"o{i}") for i in range(250)]
                        + [(f"cmi.interactions.0.objectives.{i}.id", f"o{i}") for i in range(50)]
                        + [(f"cmi.interactions.1.correct_responses.{i}.pattern", f"p{i}") for i in range(50)]),
    }
    return {**states, **_typed("1.2", s12)}


def _states_2004() -> dict[str, dict[str, str]]:
    thresholds = {"completion_threshold": 0.6, "scaled_passing_score": 0.6}
    states = {
        "new": s2004(),
        "lms": s2004(launch_data="chapter=2", max_time_allowed="PT1H", time_limit_action="exit,message", credit="no-credit",
                     entry="resume", mode="browse", total_time=372345, suspend_data="sd", location="p4",
                     comments_from_lms=[{"comment": "{lang=en}Welcome", "timestamp": "2026-03-01T10:00:00.0Z"}, {"location": "p1"}],
                     shared_data=[("glossary", "v1"), ("notes", None)],
                     nav_request_valid={"continue": "true", "previous": "false", "choice.{target=m2}": "false",
                                        "jump.{target=m3}": "true"}),
        "unmeasured": s2004(**thresholds),
        "reached": _filled("2004", s2004(**thresholds), [("cmi.progress_measure", "0.6"), ("cmi.score.scaled", "0.6"),
                                                          ("cmi.completion_status", "incomplete")]),
        "not-reached": _filled("2004", s2004(**thresholds), [("cmi.progress_measure", "0.59"), ("cmi.score.scaled", "-1"),
                                                              ("cmi.success_status", "passed")]),
        "untyped": _filled("2004", s2004(), [("cmi.interactions.0.id", "q1")]),
        "records": _filled("2004", s2004(), [
            ("cmi.objectives.0.id", "o1"), ("cmi.objectives.0.score.scaled", "0.5"), ("cmi.objectives.1.id", "o2"),
            ("cmi.interactions.0.id", "q1"), ("cmi.interactions.0.type", "choice"),
            ("cmi.interactions.0.learner_response", "a[,]b"), ("cmi.interactions.0.correct_responses.0.pattern", "a"),
            ("cmi.interactions.0.correct_responses.1.pattern", "b"), ("cmi.interactions.0.objectives.0.id", "o1"),
            ("cmi.interactions.1.id", "q2"), ("cmi.interactions.1.type", "numeric"),
            ("cmi.interactions.1.correct_responses.0.pattern", "1[:]2"), ("cmi.comments_from_learner.0.comment", "c"),
            ("cmi.location", "p"), ("adl.nav.request", "continue"),
        ]),
        "full": _filled("2004", s2004(), [(f"cmi.interactions.{i}.id", f"q{i}") for i in range(500)]
                        + [("cmi.interactions.0.type", "choice"), ("cmi.interactions.1.type", "true-false"),
                           ("cmi.interactions.1.correct_responses.0.pattern", "true")]
                        + [(f"cmi.objectives.{i}.id", f"o{i}") for i in range(250)]
                        + [(f"cmi.comments_from_learner.{i}.comment", "c") for i in range(250)]
                        + [(f"cmi.interactions.0.objectives.{i}.id", f"o{i}") for i in range(50)]
                        + [(f"cmi.interactions.0.correct_responses.{i}.pattern", f"p{i}") for i in range(50)]),
    }
    return {**states, **_typed("2004", s2004)}


STATES = {"1.2": _states_12, "2004": _states_2004}
BIG = {"full"}  # sessions with hundreds of records: fewer values per element


# ---------------------------------------------------------------------------------------------
# Elements and values
# ---------------------------------------------------------------------------------------------


def _known_paths(rules: dict) -> list[str]:
    out = set()
    for table in ("elements", "arrays", "children", "parametric"):
        for name in rules[table]:
            parts = name.split(".")
            out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(out)


def _with_indices(norm: str, choices, inner=None) -> list[str]:
    slots = norm.split(".").count("n")
    combos = [[]]
    for level in range(slots):
        combos = [c + [i] for c in combos for i in (choices if level == 0 or inner is None else inner)]
    out = []
    for combo in combos:
        it = iter(combo)
        out.append(".".join(str(next(it)) if seg == "n" else seg for seg in norm.split(".")))
    return out


def _elements(rules: dict) -> list[tuple[str, str | None]]:
    """(element, normalized name or None) for the sweep."""
    out: list[tuple[str, str | None]] = []
    for norm in rules["elements"]:
        out += [(e, norm) for e in _with_indices(norm, ["0", "1", "2", "01"], ["0", "1", "00"])]
        if "n" in norm.split("."):
            out.append((norm.replace(".n.", ".99999999999999999999.", 1), norm))
    for prefix in rules["parametric"]:
        out += [(f"{prefix}.{{target={t}}}", None) for t in ("m2", "m3", "intro", "%41", "a b", "", "пит")]
        out += [(prefix, None), (prefix + ".x", None), (prefix + "._count", None), (prefix + ".{target=m2}._count", None)]
    for path in _known_paths(rules):
        for keyword in ("_children", "_count", "_version"):
            out += [(e, None) for e in _with_indices(f"{path}.{keyword}", ["0", "1"])]
    for odd in ["", "cmi", "adl", "cmi.", ".cmi", "cmi..core", "cmi.n", "n", "_count", "cmi._count", "cmi.core.",
                "cmi.interactions.-1.id", "cmi.interactions.1e1.id", "cmi.interactions. 0.id", "cmi.interactions.٠.id",
                "constructor", "__proto__", "toString", "cmi.__proto__", "cmi.interactions.0.__proto__", "hasOwnProperty",
                "cmi.constructor", "cmi.interactions.0.constructor", "cmi.core.score.raw.x", "cmi.location.0",
                "CMI.location", "cmi.Location", "cmi.core.lesson_status ", "cmi._version.x", "cmi._version._count",
                "cmi.interactions._count._count", "adl.nav", "adl.nav.request.x", "adl.data.0", "adl.data.0.id.x",
                None, 5]:
        out.append((odd, None))
    return out


def _types_of(spec: dict) -> list[str]:
    if "type" in spec:
        return [spec["type"]]
    names = list(spec.get("types_by_value", {}).values())
    return names + ([spec["fallback_type"]] if spec.get("fallback_type") else [])


def _values_for(version: str, spec: dict | None, few: bool) -> list:
    if spec is None:
        return ["x", ""]
    samples = SAMPLES[version]
    values: list = []
    for tname in _types_of(spec):
        valid, invalid = samples[tname]
        values += valid[:2] + invalid[:1] if few else valid + invalid
    values += GENERIC[:4] if few else GENERIC + NON_STRINGS
    seen, out = set(), []
    for v in values:
        key = json.dumps(v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


# ---------------------------------------------------------------------------------------------
# Building the runs (with the oracle's answers) and replaying them in node
# ---------------------------------------------------------------------------------------------


class Plan:
    def __init__(self) -> None:
        self.states: list[dict] = []
        self.values: list = []
        self._value_index: dict[str, int] = {}
        self.runs: list[dict] = []
        self.expected: list[dict] = []
        self.codes: set[int] = set()

    def value(self, v) -> int:
        key = json.dumps(v)
        if key not in self._value_index:
            self._value_index[key] = len(self.values)
            self.values.append(v)
        return self._value_index[key]

    def run(self, version: str, label: str, state: dict, ops: list, *, sequential: bool) -> None:
        base = dict(state)
        self.states.append(base)
        cmi = dict(base)
        results = []
        for op, element, value, names in ops:
            if not sequential:
                cmi = dict(base)
            code, got = _python(version, cmi, op, element, value, names)
            self.codes.add(code)
            if op == "get":
                results.append([code, got])
            else:
                results.append([code] if sequential else [code, _diff(base, cmi)])
        encoded = [[op, element, None if op == "get" else self.value(value), names] for op, element, value, names in ops]
        self.runs.append({"version": version, "state": len(self.states) - 1, "sequential": sequential, "ops": encoded})
        self.expected.append({"label": label, "ops": ops, "results": results,
                              **({"final": _diff(base, cmi)} if sequential else {})})

    def replay_in_node(self, tmp_path: Path) -> list[dict]:
        payload = json.dumps({"rules": {v: export_rules(v) for v in ("1.2", "2004")}, "states": self.states,
                              "values": self.values, "runs": self.runs})
        script = tmp_path / "harness.js"
        script.write_text(HARNESS)
        res = subprocess.run([NODE, str(script), str(DATAMODEL_JS)], check=False, input=payload,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-3000:]
        return json.loads(res.stdout)

    def mismatches(self, actual: list[dict]) -> list[tuple]:
        assert len(actual) == len(self.expected)
        out = []
        for exp, act in zip(self.expected, actual):
            for (op, element, value, names), want, got in zip(exp["ops"], exp["results"], act["results"], strict=True):
                if want != got:
                    out.append((exp["label"], op, element, str(value)[:40], names, str(want)[:120], str(got)[:120]))
            if "final" in exp and exp["final"] != act["final"]:
                out.append((exp["label"], "final cmi", {k: str(v)[:30] for k, v in exp["final"].items()},
                            {k: str(v)[:30] for k, v in act["final"].items()}))
        return out


def _sweep(version: str) -> Plan:
    plan = Plan()
    rules = export_rules(version)
    elements = _elements(rules)
    for label, state in STATES[version]().items():
        big = label in BIG
        ops = []
        for element, norm in elements:
            if big and (norm is None or not any(norm.startswith(a + ".") for a in rules["arrays"])):
                continue
            if label.startswith("typed:") and not (norm or "").startswith("cmi.interactions."):
                continue  # a typed interaction changes only what its interaction answers
            spec = rules["elements"].get(norm) if norm else None
            ops.append(("get", element, None, None))
            every_value = not big and not re.search(r"\.(?:[2-9]|0\d|\d\d)", str(element))  # indices 0 and 1 only
            ops += [("set", element, v, None) for v in _values_for(version, spec, not every_value)]
        if label in ("lms", "records"):  # shared data buckets a session may not read or write
            for element, norm in elements:
                if norm and isinstance(element, str):
                    canonical = re.sub(r"\.0+(\d)", r".\1", element)
                    ops += [("get", element, None, [canonical]), ("set", element, "x", [canonical, "cmi.other"])]
        plan.run(version, f"{version} {label}", state, ops, sequential=False)
    return plan


def _sequences(version: str, runs: int = 40, length: int = 200) -> Plan:
    plan = Plan()
    rules = export_rules(version)
    rng = random.Random(f"rmtc-{version}")
    states = {k: v for k, v in STATES[version]().items() if k not in BIG}
    names = list(rules["elements"])
    for r in range(runs):
        label = rng.choice(sorted(states))
        ops = []
        for _ in range(length):
            norm = rng.choice(names)
            spec = rules["elements"][norm]
            element = re.sub(r"\bn\b", lambda _: str(rng.choice([0, 0, 1, 2])), norm)
            if rng.random() < 0.25:
                ops.append(("get", element, None, None))
                continue
            pool = [v for v in _values_for(version, spec, few=False) if not isinstance(v, str) or len(v) < 300]
            if norm.endswith(".type"):
                pool += rules["types"]["interaction_type"]["vocab"] * 3
            ops.append(("set", element, rng.choice(pool), None))
        for norm in names:  # read everything back at the end
            ops += [("get", e, None, None) for e in _with_indices(norm, ["0", "1", "2"])]
        plan.run(version, f"{version} sequence {r} from {label}", states[label], ops, sequential=True)
    return plan


EXPECTED_CODES = {
    "1.2": {0, 201, 202, 203, 402, 403, 404, 405},
    "2004": {0, 301, 351, 401, 403, 404, 405, 406, 407, 408},
}


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_datamodel_js_answers_the_sweep_like_python(version, tmp_path):
    plan = _sweep(version)
    calls = sum(len(r["ops"]) for r in plan.runs)
    assert calls > (20_000 if version == "1.2" else 40_000)
    assert plan.codes == EXPECTED_CODES[version]  # the sweep reaches every code the version answers
    diffs = plan.mismatches(plan.replay_in_node(tmp_path))
    assert not diffs, f"{len(diffs)} of {calls} calls differ, e.g. {diffs[:15]}"


@pytest.mark.parametrize("version", ["1.2", "2004"])
def test_datamodel_js_replays_call_sequences_like_python(version, tmp_path):
    plan = _sequences(version)
    stored = sum(len(e["final"]) for e in plan.expected)
    assert stored > 500 and len(plan.codes) >= 6  # the sequences build real data and meet real errors
    diffs = plan.mismatches(plan.replay_in_node(tmp_path))
    assert not diffs, f"{len(diffs)} differences, e.g. {diffs[:15]}"


def test_datamodel_js_reports_a_disagreement(tmp_path):
    """The harness is not vacuous: a rule changed on the JavaScript side only is caught."""
    plan = Plan()
    plan.run("2004", "tampered", s2004(), [("set", "cmi.score.scaled", "0.5", None), ("get", "cmi.score.scaled", None, None),
                                          ("set", "cmi.score.scaled", "2", None)], sequential=True)
    plan.expected[0]["results"][2] = [0]  # pretend Python accepted an out-of-range score
    diffs = plan.mismatches(plan.replay_in_node(tmp_path))
    assert [d[1:3] for d in diffs] == [("set", "cmi.score.scaled")]
