"""SCORM 2004 rollup over the activity tree (SN book, 4.6), and pre-condition rules.

The tree comes from the manifest (`PackageVersion.structure["tree"]`, sequencing XML kept as
data). Leaves are units with their state; clusters roll up from their tracked children:
- measure: the weighted average of children's scaled scores (`objectiveMeasureWeight`);
- success: the cluster's `rollupRules` with action satisfied/notSatisfied (child activity sets
  all / any / none / atLeastCount / atLeastPercent; conditions satisfied, objectiveStatusKnown,
  objectiveMeasureKnown, completed, activityProgressKnown, attempted; `not`), otherwise the
  default rules (not satisfied if any child is not satisfied, satisfied if all are);
- completion: the rules with action completed/incomplete, otherwise the defaults (completed when
  all children completed, incomplete when any was attempted), weighted by `progressWeight`;
- children with `rollupObjectiveSatisfied="false"` / `rollupProgressCompletion="false"` /
  `tracked="false"` do not contribute.
Pre-condition rules with action `hiddenFromChoice` / `disabled` / `skip` are evaluated for every
item and returned in the tree state, which the player uses for its navigation.
SCORM 1.2 and single-unit packages: the attempt is its unit (or all units must be completed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.packages.models import LaunchUnit
from app.registrations.models import UnitState


@dataclass
class Status:
    completion: str = "not attempted"  # completed | incomplete | not attempted | unknown
    success: str = "unknown"  # passed | failed | unknown
    measure: float | None = None
    attempted: bool = False

    @property
    def done(self) -> bool:
        return self.completion == "completed" or self.success in ("passed", "failed")


@dataclass
class Rolled:
    completion: str
    success: str
    score_scaled: float | None
    done: bool
    tree_state: dict[str, Any] = field(default_factory=dict)


def _seq_child(seq: dict[str, Any] | None, tag: str) -> dict[str, Any] | None:
    for c in (seq or {}).get("children", []):
        if c.get("tag") == tag:
            return c
    return None


def _seq_children(node: dict[str, Any] | None, tag: str) -> list[dict[str, Any]]:
    return [c for c in (node or {}).get("children", []) if c.get("tag") == tag]


def _attr(node: dict[str, Any] | None, name: str, default: str | None = None) -> str | None:
    return ((node or {}).get("attributes") or {}).get(name, default)


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _condition(status: Status, condition: str) -> bool:
    return {
        "satisfied": status.success == "passed",
        "objectiveStatusKnown": status.success in ("passed", "failed"),
        "objectiveMeasureKnown": status.measure is not None,
        "completed": status.completion == "completed",
        "activityProgressKnown": status.completion in ("completed", "incomplete"),
        "attempted": status.attempted,
        "always": True,
    }.get(condition, False)


def _rule_applies(rule: dict[str, Any], children: list[Status]) -> bool:
    conditions_node = _seq_child(rule, "rollupConditions")
    combination = _attr(conditions_node, "conditionCombination", "any")
    conditions = _seq_children(conditions_node, "rollupCondition")

    def child_matches(child: Status) -> bool:
        results = []
        for c in conditions:
            value = _condition(child, _attr(c, "condition", "") or "")
            results.append(not value if _attr(c, "operator") == "not" else value)
        if not results:
            return False
        return all(results) if combination == "all" else any(results)

    if not children:
        return False
    matches = [child_matches(c) for c in children]
    child_set = _attr(rule, "childActivitySet", "all")
    if child_set == "all":
        return all(matches)
    if child_set == "any":
        return any(matches)
    if child_set == "none":
        return not any(matches)
    if child_set == "atLeastCount":
        return sum(matches) >= int(_float(_attr(rule, "minimumCount"), 0))
    if child_set == "atLeastPercent":
        return sum(matches) / len(matches) >= _float(_attr(rule, "minimumPercent"), 0)
    return False


class _Walker:
    def __init__(self, units: list[LaunchUnit], states: dict[Any, UnitState], collection: dict[str, Any] | None = None):
        self.by_identifier = {u.identifier: u for u in units}
        self.states = states
        self.items: dict[str, dict[str, Any]] = {}
        # <imsss:sequencingCollection>: shared sequencing an item refers to with IDRef.
        self.shared = {_attr(c, "ID"): c for c in _seq_children(collection, "sequencing") if _attr(c, "ID")}

    def seq(self, node: dict[str, Any] | None) -> dict[str, Any] | None:
        """An item's sequencing: its own elements, completed by those of the IDRef'd collection entry."""
        own = (node or {}).get("sequencing")
        shared = self.shared.get(_attr(own, "IDRef"))
        if shared is None:
            return own
        mine = {c.get("tag") for c in own.get("children", [])}
        return {**own, "children": [c for c in shared.get("children", []) if c.get("tag") not in mine] + own.get("children", [])}

    def leaf(self, node: dict[str, Any]) -> Status:
        unit = self.by_identifier.get(node.get("unit") or "")
        state = self.states.get(unit.id) if unit else None
        if state is None:
            return Status()
        return Status(completion=state.completion_status or "not attempted", success=state.success_status or "unknown",
                      measure=state.score_scaled, attempted=state.sessions > 0)

    def walk(self, node: dict[str, Any]) -> Status:
        kids = [k for k in node.get("children", []) if k.get("kind") == "item"]
        if node.get("unit") and not kids:
            status = self.leaf(node)
        else:
            status = self.cluster(node, kids)
        self.items[node.get("id") or ""] = {"completion": status.completion, "success": status.success,
                                           "measure": status.measure, "attempted": status.attempted,
                                           **self.preconditions(node, status)}
        return status

    def cluster(self, node: dict[str, Any], kids: list[dict[str, Any]]) -> Status:
        seq = self.seq(node)
        child_statuses = [(k, self.walk(k)) for k in kids]
        tracked = [(k, s) for k, s in child_statuses if _attr(_seq_child(self.seq(k), "deliveryControls"), "tracked", "true") != "false"]

        def contributes(k: dict[str, Any], kind: str) -> bool:
            controls = _seq_child(self.seq(k), "rollupRules")
            return _attr(controls, kind, "true") != "false"

        success_set = [s for k, s in tracked if contributes(k, "rollupObjectiveSatisfied")]
        completion_set = [(k, s) for k, s in tracked if contributes(k, "rollupProgressCompletion")]
        status = Status(attempted=any(s.attempted for _, s in child_statuses))
        # Measure: weighted average.
        weighted = [(s.measure, _float(_attr(_seq_child(self.seq(k), "rollupRules"), "objectiveMeasureWeight"), 1.0))
                    for k, s in tracked]
        total = sum(w for m, w in weighted if m is not None)
        if total > 0:
            status.measure = sum(m * w for m, w in weighted if m is not None) / total
        rules = _seq_children(_seq_child(seq, "rollupRules"), "rollupRule")

        def action(rule: dict[str, Any]) -> str | None:
            return _attr(_seq_child(rule, "rollupAction"), "action")

        satisfied_rules = [r for r in rules if action(r) in ("satisfied", "notSatisfied")]
        completion_rules = [r for r in rules if action(r) in ("completed", "incomplete")]
        if satisfied_rules:
            for wanted in ("notSatisfied", "satisfied"):
                if any(action(r) == wanted and _rule_applies(r, success_set) for r in satisfied_rules):
                    status.success = "failed" if wanted == "notSatisfied" else "passed"
                    break
        elif success_set:
            if any(s.success == "failed" for s in success_set):
                status.success = "failed"
            elif all(s.success == "passed" for s in success_set):
                status.success = "passed"
        statuses = [s for _, s in completion_set]
        if completion_rules:
            for wanted in ("incomplete", "completed"):
                if any(action(r) == wanted and _rule_applies(r, statuses) for r in completion_rules):
                    status.completion = wanted
                    break
            else:
                status.completion = "incomplete" if status.attempted else "not attempted"
        elif statuses:
            if all(s.completion == "completed" for s in statuses):
                status.completion = "completed"
            elif status.attempted:
                status.completion = "incomplete"
        return status

    def preconditions(self, node: dict[str, Any], status: Status) -> dict[str, bool]:
        flags = {"hidden": bool(node.get("hidden")), "disabled": False, "skipped": False}
        # Limit conditions: an item whose attempts reached attemptLimit is not delivered again
        # (a suspended attempt may still be resumed).
        limit = int(_float(_attr(_seq_child(self.seq(node), "limitConditions"), "attemptLimit"), 0))
        unit = self.by_identifier.get(node.get("unit") or "")
        state = self.states.get(unit.id) if unit else None
        if limit > 0 and state is not None and state.activity_attempts >= limit and state.exit != "suspend":
            flags["disabled"] = True
            flags["attempt_limit_reached"] = True
        seq_rules = _seq_child(self.seq(node), "sequencingRules")
        for rule in _seq_children(seq_rules, "preConditionRule"):
            conditions_node = _seq_child(rule, "ruleConditions")
            combination = _attr(conditions_node, "conditionCombination", "all")
            results = []
            for c in _seq_children(conditions_node, "ruleCondition"):
                value = _condition(status, _attr(c, "condition", "") or "")
                results.append(not value if _attr(c, "operator") == "not" else value)
            if results and (all(results) if combination == "all" else any(results)):
                act = _attr(_seq_child(rule, "ruleAction"), "action")
                if act == "hiddenFromChoice":
                    flags["hidden"] = True
                elif act == "disabled":
                    flags["disabled"] = True
                elif act == "skip":
                    flags["skipped"] = True
        return flags


def _default_organization(structure: dict[str, Any]) -> dict[str, Any] | None:
    orgs = [o for o in (structure.get("tree") or {}).get("children", []) if o.get("kind") == "organization"]
    return next((o for o in orgs if o.get("default")), orgs[0] if orgs else None)


def roll_up(structure: dict[str, Any], units: list[LaunchUnit], states: dict[Any, UnitState]) -> Rolled:
    org = _default_organization(structure)
    walker = _Walker(units, states, structure.get("sequencing_collection"))
    if org is not None and units:
        status = walker.walk(org)
    else:
        leaves = [walker.leaf({"unit": u.identifier}) for u in units]
        status = Status(attempted=any(s.attempted for s in leaves))
        if leaves and all(s.completion == "completed" for s in leaves):
            status.completion = "completed"
        elif status.attempted:
            status.completion = "incomplete"
        if any(s.success == "failed" for s in leaves):
            status.success = "failed"
        elif leaves and all(s.success == "passed" for s in leaves):
            status.success = "passed"
        scores = [s.measure for s in leaves if s.measure is not None]
        status.measure = sum(scores) / len(scores) if scores else None
    if len(units) == 1 and units[0].id in states:
        # One unit: the attempt is exactly its unit (also for SCORM 1.2, which has no rollup rules).
        only = walker.leaf({"unit": units[0].identifier})
        status = Status(only.completion, only.success, only.measure, only.attempted)
    return Rolled(completion=status.completion, success=status.success, score_scaled=status.measure, done=status.done,
                  tree_state={"items": walker.items})
