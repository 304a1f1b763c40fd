"""Grading of every question type (pure functions), with the edge cases that matter."""

from __future__ import annotations

import pytest

from app.assessments import content, grading
from app.assessments.grading import ResponseInvalid, check_response, grade, quiz_grade
from app.assessments.models import GradingMethod
from app.assessments.models import QuestionType as T

pytestmark = pytest.mark.db_independent


def stored(body: dict) -> dict:
    """Validated like an API body, stored like a version (with opaque ids)."""
    return content.stored_data(content.question_input.validate_python({"text": {"en": "Q"}, **body}))


def ids(data: dict, key: str = "choices") -> list[str]:
    return [c["id"] for c in data[key]]


def credit(qtype: T, data: dict, response) -> float | None:
    return grade(qtype, data, check_response(qtype, data, response)).credit


# Single choice -------------------------------------------------------------------------------


def test_single_choice_full_partial_and_wrong():
    data = stored({"type": "single_choice", "choices": [
        {"text": {"en": "right"}, "correct": True},
        {"text": {"en": "nearly"}, "credit": 0.5},
        {"text": {"en": "wrong"}},
    ]})
    right, nearly, wrong = ids(data)
    assert credit(T.single_choice, data, right) == 1.0
    assert credit(T.single_choice, data, nearly) == 0.5
    assert credit(T.single_choice, data, wrong) == 0.0
    assert grade(T.single_choice, data, None) == grading.Outcome(credit=0.0, answered=False)
    with pytest.raises(ResponseInvalid):
        check_response(T.single_choice, data, "not-a-choice")
    with pytest.raises(ResponseInvalid):
        check_response(T.single_choice, data, [right])


def test_choice_ids_are_opaque_and_new_for_every_version():
    body = {"type": "single_choice", "choices": [{"text": {"en": "a"}, "correct": True}, {"text": {"en": "b"}}]}
    first, second = stored(body), stored(body)
    assert set(ids(first)).isdisjoint(ids(second))
    assert all(len(i) == 8 and i not in ("a", "b", "1", "2") for i in ids(first))


# Multiple response ---------------------------------------------------------------------------


@pytest.fixture
def mr_partial():
    # 3 right (a, b, c), 2 wrong (d, e)
    return stored({"type": "multiple_response", "choices": [
        {"text": {"en": t}, "correct": t in "abc"} for t in "abcde"
    ]})


@pytest.mark.parametrize("chosen, expected", [
    ("abc", 1.0),  # all right
    ("ab", 0.666667),  # 2/3
    ("a", 0.333333),
    ("abcd", 0.5),  # 3/3 - 1/2
    ("ad", 0.0),  # 1/3 - 1/2 < 0 -> 0
    ("abcde", 0.0),  # ticking everything earns nothing
    ("de", 0.0),
    ("", 0.0),  # no answer
])
def test_multiple_response_partial_credit(mr_partial, chosen, expected):
    letter = dict(zip("abcde", ids(mr_partial)))
    assert credit(T.multiple_response, mr_partial, [letter[c] for c in chosen]) == pytest.approx(expected, abs=1e-6)


def test_multiple_response_all_or_nothing():
    data = stored({"type": "multiple_response", "scoring": "all_or_nothing", "choices": [
        {"text": {"en": t}, "correct": t in "ab"} for t in "abc"]})
    a, b, c = ids(data)
    assert credit(T.multiple_response, data, [b, a]) == 1.0
    assert credit(T.multiple_response, data, [a]) == 0.0
    assert credit(T.multiple_response, data, [a, b, c]) == 0.0
    with pytest.raises(ResponseInvalid):
        check_response(T.multiple_response, data, [a, a])
    with pytest.raises(ResponseInvalid):
        check_response(T.multiple_response, data, a)


def test_multiple_response_with_no_wrong_choices_has_no_penalty_term():
    data = stored({"type": "multiple_response", "choices": [{"text": {"en": t}, "correct": True} for t in "ab"]})
    a, _ = ids(data)
    assert credit(T.multiple_response, data, [a]) == 0.5


# True / false --------------------------------------------------------------------------------


def test_true_false_and_its_feedback():
    data = stored({"type": "true_false", "correct": False, "feedback_true": {"en": "No: ..."}, "feedback_false": {"en": "Yes!"}})
    assert credit(T.true_false, data, False) == 1.0
    assert credit(T.true_false, data, True) == 0.0
    assert grading.response_feedback(T.true_false, data, True) == [{"en": "No: ..."}]
    with pytest.raises(ResponseInvalid):
        check_response(T.true_false, data, "false")  # a string is not a boolean
    with pytest.raises(ResponseInvalid):
        check_response(T.true_false, data, 0)


# Short text ----------------------------------------------------------------------------------


@pytest.fixture
def dublin():
    return stored({"type": "short_text", "answers": [
        {"text": "Dublin III Regulation"}, {"text": "Dublin III"}, {"text": "Dublin", "credit": 0.5},
    ]})


@pytest.mark.parametrize("response, expected", [
    ("Dublin III", 1.0),
    ("  dublin   iii ", 1.0),  # case and surrounding/inner whitespace (collapse) do not matter
    ("DUBLIN III REGULATION", 1.0),
    ("Dublin", 0.5),
    ("Dublin II", 0.0),
    ("DublinIII", 0.0),  # collapse keeps one space between words
    ("", 0.0),
    ("   ", 0.0),
])
def test_short_text_default_rules(dublin, response, expected):
    assert credit(T.short_text, dublin, response) == expected


def test_short_text_blank_counts_as_unanswered(dublin):
    assert grade(T.short_text, dublin, "   ").answered is False
    assert grade(T.short_text, dublin, "x").answered is True


def test_short_text_case_sensitive_and_whitespace_rules():
    exact = stored({"type": "short_text", "case_sensitive": True, "whitespace": "exact", "answers": [{"text": "EURODAC"}]})
    assert credit(T.short_text, exact, "EURODAC") == 1.0
    assert credit(T.short_text, exact, "Eurodac") == 0.0
    assert credit(T.short_text, exact, " EURODAC") == 0.0
    ignore = stored({"type": "short_text", "whitespace": "ignore", "answers": [{"text": "non-refoulement"}]})
    assert credit(T.short_text, ignore, "non - refoule ment") == 1.0  # every space goes
    assert credit(T.short_text, ignore, "nonrefoulement") == 0.0  # the hyphen does not


def test_short_text_unicode_normalisation_and_cyrillic_case():
    data = stored({"type": "short_text", "answers": [{"text": "Поступак азила"}, {"text": "Ćirilica"}]})
    assert credit(T.short_text, data, "ПОСТУПАК АЗИЛА") == 1.0
    assert credit(T.short_text, data, "C\u0301irilica") == 1.0  # decomposed Ć


def test_short_text_answers_must_be_distinct_and_give_full_credit():
    with pytest.raises(Exception, match="listed twice"):
        stored({"type": "short_text", "answers": [{"text": "Dublin"}, {"text": " dublin "}]})
    with pytest.raises(Exception, match="full credit"):
        stored({"type": "short_text", "answers": [{"text": "Dublin", "credit": 0.5}]})


# Numeric -------------------------------------------------------------------------------------


@pytest.fixture
def days():
    return stored({"type": "numeric", "answers": [{"value": 1500, "tolerance": 50}, {"value": 1000, "tolerance": 0, "credit": 0.25}]})


@pytest.mark.parametrize("response, expected", [
    (1500, 1.0), (1450, 1.0), (1550, 1.0),  # tolerance bounds are inclusive
    (1449.999, 0.0), (1550.001, 0.0),
    ("1 500", 1.0), ("1500,0", 1.0), ("1.5e3", 1.0), ("+1520", 1.0),
    (1000, 0.25), ("1000.0", 0.25),
    ("1,500", 0.0),  # a comma is a decimal separator: 1.5
    ("about 1500", 0.0), ("1500 days", 0.0), ("", 0.0),
])
def test_numeric_tolerance_and_formats(days, response, expected):
    assert credit(T.numeric, days, response) == expected


def test_numeric_tolerance_bound_with_fractions_is_inclusive_despite_binary_floats():
    data = stored({"type": "numeric", "answers": [{"value": 0.3, "tolerance": 0.1}]})
    assert credit(T.numeric, data, 0.4) == 1.0  # 0.4 - 0.3 is 0.10000000000000003 in binary
    assert credit(T.numeric, data, 0.2) == 1.0
    assert credit(T.numeric, data, 0.41) == 0.0


def test_numeric_refuses_non_numbers_as_input_errors(days):
    for bad in (True, [1500], {"v": 1}, "x" * 51):
        with pytest.raises(ResponseInvalid):
            check_response(T.numeric, days, bad)
    assert grade(T.numeric, days, "abc") == grading.Outcome(credit=0.0, answered=True)


# Matching ------------------------------------------------------------------------------------


@pytest.fixture
def matching():
    return stored({"type": "matching", "pairs": [
        {"prompt": {"en": "Scars"}, "match": {"en": "Torture"}},
        {"prompt": {"en": "Held documents"}, "match": {"en": "Trafficking"}},
        {"prompt": {"en": "Alone, 15 years old"}, "match": {"en": "Unaccompanied child"}},
        {"prompt": {"en": "Forced labour"}, "match": {"en": "Trafficking"}},
    ], "distractors": [{"en": "Economic migrant"}]})


def test_matching_partial_credit_and_shared_matches(matching):
    prompts = ids(matching, "prompts")
    key = matching["key"]
    assert len(matching["matches"]) == 4  # "Trafficking" once, plus the distractor
    assert key[prompts[1]] == key[prompts[3]]
    assert set(prompts).isdisjoint(m["id"] for m in matching["matches"])
    assert credit(T.matching, matching, dict(key)) == 1.0
    wrong = {**key, prompts[0]: key[prompts[1]]}
    assert credit(T.matching, matching, wrong) == 0.75
    assert credit(T.matching, matching, {prompts[0]: key[prompts[0]]}) == 0.25  # only one prompt answered
    assert credit(T.matching, matching, {p: None for p in prompts}) == 0.0  # cleared
    with pytest.raises(ResponseInvalid):
        check_response(T.matching, matching, {"nope": key[prompts[0]]})
    with pytest.raises(ResponseInvalid):
        check_response(T.matching, matching, {prompts[0]: "nope"})


def test_matching_all_or_nothing(matching):
    data = {**matching, "scoring": "all_or_nothing"}
    prompts = ids(data, "prompts")
    assert credit(T.matching, data, dict(data["key"])) == 1.0
    assert credit(T.matching, data, {**data["key"], prompts[0]: data["key"][prompts[1]]}) == 0.0


# Ordering ------------------------------------------------------------------------------------


@pytest.fixture
def ordering():
    return stored({"type": "ordering", "items": [{"en": s} for s in ("Register", "Lodge", "Interview", "Decide", "Appeal")]})


def test_ordering_partial_credit_longest_ordered_run(ordering):
    a, b, c, d, e = ids(ordering, "items")
    assert credit(T.ordering, ordering, [a, b, c, d, e]) == 1.0
    assert credit(T.ordering, ordering, [a, b, d, c, e]) == 0.75  # run of 4: (4-1)/(5-1)
    assert credit(T.ordering, ordering, [e, d, c, b, a]) == 0.0  # reversed
    assert credit(T.ordering, ordering, [b, c, d, e, a]) == 0.75
    with pytest.raises(ResponseInvalid):
        check_response(T.ordering, ordering, [a, b, c, d])  # not every item
    with pytest.raises(ResponseInvalid):
        check_response(T.ordering, ordering, [a, a, c, d, e])


def test_ordering_all_or_nothing(ordering):
    data = {**ordering, "scoring": "all_or_nothing"}
    a, b, c, d, e = ids(data, "items")
    assert credit(T.ordering, data, [a, b, c, d, e]) == 1.0
    assert credit(T.ordering, data, [a, b, c, e, d]) == 0.0


# Essay ---------------------------------------------------------------------------------------


def test_essay_waits_for_a_grader_unless_blank():
    data = stored({"type": "essay", "min_words": 50})
    assert grade(T.essay, data, "An answer").credit is None
    assert grade(T.essay, data, "  ") == grading.Outcome(credit=0.0, answered=False)
    with pytest.raises(ResponseInvalid):
        check_response(T.essay, data, "x" * 20001)


# Across attempts -----------------------------------------------------------------------------


@pytest.mark.parametrize("method, expected", [
    (GradingMethod.highest, 0.8), (GradingMethod.average, 0.5), (GradingMethod.first, 0.4), (GradingMethod.last, 0.3),
])
def test_grading_methods(method, expected):
    assert quiz_grade(method, [0.4, 0.8, 0.3]) == pytest.approx(expected)
    assert quiz_grade(method, []) is None


def test_correct_response_shapes():
    sc = stored({"type": "single_choice", "choices": [{"text": {"en": "a"}, "correct": True}, {"text": {"en": "b"}}]})
    assert grading.correct_response(T.single_choice, sc) == [ids(sc)[0]]
    num = stored({"type": "numeric", "answers": [{"value": 3, "tolerance": 0.5}, {"value": 9, "credit": 0.5}]})
    assert grading.correct_response(T.numeric, num) == [{"value": 3.0, "tolerance": 0.5}]
