"""Seeded draws and shuffles, and the report statistics, against hand-computed values."""

from __future__ import annotations

import uuid

import pytest

from app.assessments import draws, reports
from app.assessments.models import QuestionType

pytestmark = pytest.mark.db_independent

POOL_A = [uuid.UUID(int=i) for i in range(1, 11)]
POOL_B = [uuid.UUID(int=i) for i in range(6, 16)]  # overlaps A on 6..10
FIXED = uuid.UUID(int=3)


def slots():
    return [
        draws.SlotSpec(position=1, question_id=FIXED),
        draws.SlotSpec(position=2, pool=list(POOL_A), count=4),
        draws.SlotSpec(position=3, pool=list(reversed(POOL_B)), count=5),
    ]


def test_the_same_seed_draws_the_same_quiz_and_other_seeds_differ():
    first = draws.draw_questions(1234, slots(), shuffle=True)
    assert draws.draw_questions(1234, slots(), shuffle=True) == first
    # The order in which candidates were listed does not matter (pools are sorted first).
    shuffled_pools = [slots()[0], draws.SlotSpec(position=2, pool=list(reversed(POOL_A)), count=4), slots()[2]]
    assert draws.draw_questions(1234, shuffled_pools, shuffle=True) == first
    others = {tuple(draws.draw_questions(seed, slots(), shuffle=True)) for seed in range(20)}
    assert len(others) > 15


def test_a_question_is_drawn_once_and_fixed_questions_are_never_drawn_again():
    for seed in range(50):
        drawn = draws.draw_questions(seed, slots(), shuffle=False)
        questions = [q for _, q in drawn]
        assert len(questions) == 10 and len(set(questions)) == 10
        assert questions[0] == FIXED and questions.count(FIXED) == 1
        assert [p for p, _ in drawn] == [1, 2, 2, 2, 2, 3, 3, 3, 3, 3]
        assert set(questions[1:5]) <= set(POOL_A) and set(questions[5:]) <= set(POOL_B)


def test_a_draw_larger_than_its_pool_is_refused():
    with pytest.raises(draws.NotEnoughQuestions) as exc:
        draws.draw_questions(1, [draws.SlotSpec(position=1, question_id=POOL_A[0]),
                                 draws.SlotSpec(position=2, pool=POOL_A[:3], count=3)], shuffle=False)
    assert (exc.value.slot_position, exc.value.wanted, exc.value.available) == (2, 3, 2)


def test_layouts_are_reproducible_and_ordering_items_never_start_in_the_key_order():
    data = {"items": [{"id": f"i{n}"} for n in range(3)]}
    seen = set()
    for seed in range(200):
        order = draws.layout(seed, 1, QuestionType.ordering, data, shuffle_choices=False)["items"]
        assert order != ["i0", "i1", "i2"]
        assert draws.layout(seed, 1, QuestionType.ordering, data, shuffle_choices=False)["items"] == order
        seen.add(tuple(order))
    assert len(seen) == 5  # every permutation but the correct one
    choices = {"choices": [{"id": c} for c in "abcdef"], "shuffle": True}
    assert draws.layout(7, 2, QuestionType.single_choice, choices, shuffle_choices=False) == {"choices": list("abcdef")}
    assert draws.layout(7, 2, QuestionType.single_choice, {**choices, "shuffle": False}, shuffle_choices=True) == {"choices": list("abcdef")}
    shuffled = draws.layout(7, 2, QuestionType.single_choice, choices, shuffle_choices=True)["choices"]
    assert sorted(shuffled) == list("abcdef") and shuffled == draws.layout(7, 2, QuestionType.single_choice, choices, shuffle_choices=True)["choices"]
    # Another position of the same attempt is shuffled independently.
    assert any(draws.layout(7, p, QuestionType.single_choice, choices, shuffle_choices=True)["choices"] != shuffled for p in range(3, 8))


# Statistics ----------------------------------------------------------------------------------


def test_distribution_bins():
    bins = reports.distribution([0.0, 0.05, 0.1, 0.55, 0.99, 1.0, 0.3])
    assert [b[2] for b in bins] == [2, 1, 0, 1, 0, 1, 0, 0, 0, 2]
    assert bins[0][:2] == (0.0, 0.1) and bins[-1][:2] == (0.9, 1.0)


def test_item_analysis_against_hand_computed_values():
    # Four attempts of a 3-point quiz; the item is worth 1 point.
    # item credit x:        1, 1, 0, 0
    # attempt raw (of 3):   3, 2, 1, 0  -> rest of test (raw - item) / 2 = 1, 0.5, 0.5, 0
    # mean x = 0.5; mean y = 0.5; sxy = (.5)(.5)+(.5)(0)+(-.5)(0)+(-.5)(-.5) = 0.5
    # sxx = 1; syy = .25+0+0+.25 = 0.5  -> r = 0.5 / sqrt(0.5) = 0.7071
    rows = [
        (reports.ItemScore(credit=1, points=1, score=1, answered=True, chosen=["a"]), 3, 3),
        (reports.ItemScore(credit=1, points=1, score=1, answered=True, chosen=["a"]), 2, 3),
        (reports.ItemScore(credit=0, points=1, score=0, answered=True, chosen=["b"]), 1, 3),
        (reports.ItemScore(credit=0, points=1, score=0, answered=False, chosen=[]), 0, 3),
    ]
    analysis = reports.analyse_item(rows)
    assert analysis.facility == 0.5
    assert analysis.discrimination == 0.7071
    assert analysis.choice_counts == {"a": 2, "b": 1}
    assert (analysis.responses, analysis.unanswered) == (4, 1)


def test_discrimination_is_undefined_without_variation():
    same = [(reports.ItemScore(credit=1, points=1, score=1, answered=True), raw, 2) for raw in (2, 1.5, 1)]
    assert reports.analyse_item(same).discrimination is None
    assert reports.analyse_item(same[:1]).discrimination is None
    assert reports.pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_pre_post_means_use_learners_with_both_grades():
    stats = reports.pre_post([(0.4, 0.8), (0.5, 0.6), (None, 0.9), (0.3, None)])
    assert (stats.learners, stats.mean_pre, stats.mean_post, stats.mean_gain) == (2, 0.45, 0.7, 0.25)
    assert reports.pre_post([]).learners == 0


def test_csv_cells_cannot_become_formulas():
    text = reports.to_csv(["name", "score"], [["=HYPERLINK(\"x\")", 0.5], ["Ana", None]])
    assert text.splitlines() == ["name,score", "\"'=HYPERLINK(\"\"x\"\")\",0.5", "Ana,"]


def test_a_subcategory_draw_is_filled_before_its_parent_takes_its_questions():
    children = [uuid.UUID(int=i) for i in (1, 2)]
    everything = [uuid.UUID(int=i) for i in range(1, 6)]  # the parent category with its subcategory
    slots = [draws.SlotSpec(position=1, pool=everything, count=3), draws.SlotSpec(position=2, pool=children, count=2)]
    for seed in range(100):
        drawn = draws.draw_questions(seed, slots, shuffle=False)
        assert [p for p, _ in drawn] == [1, 1, 1, 2, 2]
        assert {q for p, q in drawn if p == 2} == set(children)
