"""Random draws and shuffles, reproducible from an attempt's seed (plain functions, no I/O).

Each purpose gets its own generator seeded with a string ("<seed>:questions", "<seed>:layout:<n>"),
so the same seed and the same candidate pools always give the same quiz, and changing one
question's layout never changes another's. The attempt stores the result as well: reproducibility
is for audits and tests, not what resuming relies on.
"""

from __future__ import annotations

import random
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from app.assessments.models import QuestionType


def new_seed() -> int:
    return secrets.randbits(62)


class NotEnoughQuestions(ValueError):
    def __init__(self, slot_position: int, wanted: int, available: int):
        super().__init__(f"slot {slot_position} draws {wanted} question(s) but only {available} are available")
        self.slot_position = slot_position
        self.wanted = wanted
        self.available = available


@dataclass(frozen=True)
class SlotSpec:
    position: int
    question_id: uuid.UUID | None = None  # a fixed question
    pool: list[uuid.UUID] = field(default_factory=list)  # candidates of a random slot
    count: int = 1


def draw_questions(seed: int, slots: list[SlotSpec], *, shuffle: bool) -> list[tuple[int, uuid.UUID]]:
    """(slot position, question id) for every question of an attempt, in the order shown.

    A question appears at most once: fixed questions are never drawn again, and slots drawing from
    overlapping categories do not repeat each other's questions. The smallest pools draw first, so
    a subcategory's draw never finds its questions taken by a draw from its parent category.
    """
    rng = random.Random(f"{seed}:questions")
    taken = {s.question_id for s in slots if s.question_id is not None}
    drawn: dict[int, list[uuid.UUID]] = {}
    random_slots = [s for s in slots if s.question_id is None]
    for slot in sorted(random_slots, key=lambda s: (len(set(s.pool)), s.position)):
        candidates = sorted(set(slot.pool) - taken, key=str)
        if len(candidates) < slot.count:
            raise NotEnoughQuestions(slot.position, slot.count, len(candidates))
        drawn[slot.position] = rng.sample(candidates, slot.count)
        taken.update(drawn[slot.position])
    chosen: list[tuple[int, uuid.UUID]] = []
    for slot in sorted(slots, key=lambda s: s.position):
        if slot.question_id is not None:
            chosen.append((slot.position, slot.question_id))
        else:
            chosen.extend((slot.position, q) for q in drawn[slot.position])
    if shuffle:
        rng.shuffle(chosen)
    return chosen


def _shuffled(rng: random.Random, ids: list[str], *, avoid_identity: bool = False) -> list[str]:
    out = list(ids)
    rng.shuffle(out)
    if avoid_identity and len(out) > 1 and out == ids:
        out = out[1:] + out[:1]
    return out


def layout(seed: int, position: int, qtype: QuestionType, data: dict[str, Any], *, shuffle_choices: bool) -> dict[str, Any]:
    """The order in which one question's parts are shown in this attempt.

    Choices follow the quiz's setting (and the question's own `shuffle`); matches and ordering
    items are always shuffled, since their authored order is the key; ordering items are never
    shown in the correct order.
    """
    rng = random.Random(f"{seed}:layout:{position}")
    if qtype in (QuestionType.single_choice, QuestionType.multiple_response):
        ids = [c["id"] for c in data["choices"]]
        return {"choices": _shuffled(rng, ids) if shuffle_choices and data.get("shuffle", True) else ids}
    if qtype is QuestionType.matching:
        prompts = [p["id"] for p in data["prompts"]]
        return {
            "prompts": _shuffled(rng, prompts) if shuffle_choices else prompts,
            "matches": _shuffled(rng, [m["id"] for m in data["matches"]]),
        }
    if qtype is QuestionType.ordering:
        return {"items": _shuffled(rng, [i["id"] for i in data["items"]], avoid_identity=True)}
    return {}
