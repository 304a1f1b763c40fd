"""Question content: what an author writes for each type, and the stored form with the answer key.

The API, the GIFT importer and the Moodle XML importer all produce `QuestionInput` values, so a
question is validated by the same rules whichever way it arrives. The stored form (`data`) gives
every choice, prompt, match and ordering item an opaque random id: ids say nothing about the key
(a matching prompt and its match do not share a number), and they are never taken from clients.
"""

from __future__ import annotations

import secrets
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from app.assessments.grading import normalise_text
from app.assessments.models import QuestionType
from app.core.i18n import LanguageMap, LanguageTag

MAX_TEXT = 20000
MAX_OPTION = 2000


def no_nul(value: str) -> str:
    # PostgreSQL stores no NUL character in text or JSONB; refuse it as input, not as a 500.
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


def _bounded_map(limit: int):
    def check(value: dict[str, str]) -> dict[str, str]:
        for tag, text in value.items():
            if len(text) > limit:
                raise ValueError(f"the {tag!r} text is longer than {limit} characters")
            no_nul(text)
        return value

    return check


def _drop_blank(value: dict[str, str]) -> dict[str, str]:
    return {tag: text for tag, text in value.items() if text.strip()}


Text = Annotated[LanguageMap, AfterValidator(_bounded_map(MAX_TEXT))]
OptionText = Annotated[LanguageMap, AfterValidator(_bounded_map(MAX_OPTION))]
# Feedback and explanations may be empty; blank languages are dropped.
OptionalText = Annotated[dict[LanguageTag, str], AfterValidator(_bounded_map(MAX_TEXT)), AfterValidator(_drop_blank)]
Title = Annotated[LanguageMap, AfterValidator(_bounded_map(500))]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), AfterValidator(no_nul)]
CategoryPath = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), AfterValidator(no_nul)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), AfterValidator(no_nul)]
Credit = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Common(_Strict):
    name: Name | None = Field(
        default=None, description="Short name in bank lists; default: the start of the text"
    )
    category: CategoryPath | None = Field(
        default=None, description="Category path in the bank, created when missing", examples=["Vulnerability/Indicators"]
    )
    tags: list[Tag] = Field(default_factory=list, max_length=30)
    points: float = Field(default=1.0, gt=0, le=1000, allow_inf_nan=False)
    text: Text = Field(examples=[{"en": "Which person is a vulnerable applicant?", "sr-Latn": "Koja osoba je ranjivi tražilac?"}])
    feedback: OptionalText = Field(default_factory=dict, description="General feedback, shown when the review allows feedback")
    explanation: OptionalText = Field(
        default_factory=dict, description="Why the correct answer is correct; shown with the correct answers"
    )


class ChoiceInput(_Strict):
    text: OptionText
    correct: bool = False
    credit: float | None = Field(
        default=None, gt=0, lt=1, allow_inf_nan=False,
        description="Single choice only: partial credit for a choice that is not fully correct",
    )
    feedback: OptionalText = Field(default_factory=dict)


class SingleChoice(_Common):
    type: Literal[QuestionType.single_choice]
    choices: list[ChoiceInput] = Field(min_length=2, max_length=20)
    shuffle: bool = Field(default=True, description="Allow the quiz to shuffle the choices")

    @model_validator(mode="after")
    def _key(self) -> SingleChoice:
        if not any(c.correct for c in self.choices):
            raise ValueError("mark at least one choice correct")
        if any(c.correct and c.credit is not None for c in self.choices):
            raise ValueError("a correct choice gets full credit; `credit` is for partially correct choices")
        return self


class MultipleResponse(_Common):
    type: Literal[QuestionType.multiple_response]
    choices: list[ChoiceInput] = Field(min_length=2, max_length=20)
    scoring: Literal["partial", "all_or_nothing"] = Field(
        default="partial",
        description="partial: (right choices selected / right choices) - (wrong selected / wrong choices), at least 0",
    )
    shuffle: bool = True

    @model_validator(mode="after")
    def _key(self) -> MultipleResponse:
        if not any(c.correct for c in self.choices):
            raise ValueError("mark at least one choice correct")
        if any(c.credit is not None for c in self.choices):
            raise ValueError("`credit` is for single choice questions; multiple response uses `scoring`")
        return self


class TrueFalse(_Common):
    type: Literal[QuestionType.true_false]
    correct: bool
    feedback_true: OptionalText = Field(default_factory=dict, description="Shown to who answered true")
    feedback_false: OptionalText = Field(default_factory=dict, description="Shown to who answered false")


class AcceptedText(_Strict):
    text: Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(no_nul)]
    credit: Credit = 1.0
    feedback: OptionalText = Field(default_factory=dict)


class ShortText(_Common):
    type: Literal[QuestionType.short_text]
    answers: list[AcceptedText] = Field(min_length=1, max_length=50)
    case_sensitive: bool = False
    whitespace: Literal["collapse", "ignore", "exact"] = Field(
        default="collapse",
        description="collapse: trim and treat runs of spaces as one; ignore: remove all spaces; exact: compare as typed",
    )

    @model_validator(mode="after")
    def _key(self) -> ShortText:
        if not any(a.credit == 1 for a in self.answers):
            raise ValueError("at least one accepted answer must give full credit")
        seen: set[str] = set()
        for a in self.answers:
            key = normalise_text(a.text, case_sensitive=self.case_sensitive, whitespace=self.whitespace)
            if not key:
                raise ValueError("an accepted answer is empty after whitespace rules")
            if key in seen:
                raise ValueError(f"the accepted answer {a.text!r} is listed twice")
            seen.add(key)
        return self


class NumericAnswer(_Strict):
    value: float = Field(allow_inf_nan=False, ge=-1e15, le=1e15)
    tolerance: float = Field(default=0, ge=0, le=1e15, allow_inf_nan=False, description="Accepted: value ± tolerance (inclusive)")
    credit: Credit = 1.0
    feedback: OptionalText = Field(default_factory=dict)


class Numeric(_Common):
    type: Literal[QuestionType.numeric]
    answers: list[NumericAnswer] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _key(self) -> Numeric:
        if not any(a.credit == 1 for a in self.answers):
            raise ValueError("at least one answer must give full credit")
        return self


class Pair(_Strict):
    prompt: OptionText
    match: OptionText


class Matching(_Common):
    type: Literal[QuestionType.matching]
    pairs: list[Pair] = Field(min_length=2, max_length=30)
    distractors: list[OptionText] = Field(default_factory=list, max_length=20, description="Extra matches that fit no prompt")
    scoring: Literal["partial", "all_or_nothing"] = "partial"

    @model_validator(mode="after")
    def _distinct(self) -> Matching:
        prompts = [_fold(p.prompt) for p in self.pairs]
        if len(set(prompts)) != len(prompts):
            raise ValueError("two prompts have the same text")
        matches = {_fold(p.match) for p in self.pairs}
        if len(matches) < 2:
            raise ValueError("the prompts need at least two different matches")
        if any(_fold(d) in matches for d in self.distractors):
            raise ValueError("a distractor has the text of a match")
        return self


class Ordering(_Common):
    type: Literal[QuestionType.ordering]
    items: list[OptionText] = Field(min_length=2, max_length=30, description="In the correct order")
    scoring: Literal["partial", "all_or_nothing"] = Field(
        default="partial",
        description="partial: (longest run of items in the correct relative order - 1) / (items - 1)",
    )

    @model_validator(mode="after")
    def _distinct(self) -> Ordering:
        folded = [_fold(i) for i in self.items]
        if len(set(folded)) != len(folded):
            raise ValueError("two items have the same text")
        return self


class Essay(_Common):
    type: Literal[QuestionType.essay]
    min_words: int | None = Field(default=None, ge=1, le=10000)
    max_words: int | None = Field(default=None, ge=1, le=10000)
    grader_info: OptionalText = Field(default_factory=dict, description="Guidance for graders (never shown to learners)")

    @model_validator(mode="after")
    def _range(self) -> Essay:
        if self.min_words and self.max_words and self.min_words > self.max_words:
            raise ValueError("min_words exceeds max_words")
        return self


QuestionInput = Annotated[
    SingleChoice | MultipleResponse | TrueFalse | ShortText | Numeric | Matching | Ordering | Essay,
    Field(discriminator="type"),
]
question_input = TypeAdapter(QuestionInput)


def _fold(value: dict[str, str]) -> tuple:
    return tuple(sorted((k.lower(), unicodedata.normalize("NFC", v).strip().casefold()) for k, v in value.items()))


def new_id() -> str:
    return secrets.token_hex(4)


def _ids(count: int) -> list[str]:
    ids: list[str] = []
    while len(ids) < count:
        candidate = new_id()
        if candidate not in ids:
            ids.append(candidate)
    return ids


def default_name(text: dict[str, str]) -> str:
    first = text.get("en") or next(iter(text.values()), "")
    flat = " ".join(first.split())
    return flat if len(flat) <= 80 else flat[:79].rstrip() + "…"


def stored_data(q: BaseModel) -> dict[str, Any]:
    """The type-specific part of a version as stored (with fresh opaque ids)."""
    t = q.type
    if t in (QuestionType.single_choice, QuestionType.multiple_response):
        ids = _ids(len(q.choices))
        choices = []
        for cid, c in zip(ids, q.choices):
            entry: dict[str, Any] = {"id": cid, "text": c.text, "correct": c.correct, "feedback": c.feedback}
            if t is QuestionType.single_choice:
                entry["credit"] = 1.0 if c.correct else (c.credit or 0.0)
            choices.append(entry)
        data: dict[str, Any] = {"choices": choices, "shuffle": q.shuffle}
        if t is QuestionType.multiple_response:
            data["scoring"] = q.scoring
        return data
    if t is QuestionType.true_false:
        return {"correct": q.correct, "feedback_true": q.feedback_true, "feedback_false": q.feedback_false}
    if t is QuestionType.short_text:
        return {"answers": [a.model_dump() for a in q.answers], "case_sensitive": q.case_sensitive, "whitespace": q.whitespace}
    if t is QuestionType.numeric:
        return {"answers": [a.model_dump() for a in q.answers]}
    if t is QuestionType.matching:
        prompt_ids = _ids(len(q.pairs))
        # Identical match texts (two prompts, one answer) are one match, as in Moodle.
        texts: list[dict[str, str]] = []
        index: dict[tuple, int] = {}
        for text in [p.match for p in q.pairs] + list(q.distractors):
            if _fold(text) not in index:
                index[_fold(text)] = len(texts)
                texts.append(text)
        match_ids = _ids(len(texts))
        return {
            "prompts": [{"id": pid, "text": pair.prompt} for pid, pair in zip(prompt_ids, q.pairs)],
            "matches": [{"id": mid, "text": text} for mid, text in zip(match_ids, texts)],
            "key": {pid: match_ids[index[_fold(pair.match)]] for pid, pair in zip(prompt_ids, q.pairs)},
            "scoring": q.scoring,
        }
    if t is QuestionType.ordering:
        return {"items": [{"id": iid, "text": text} for iid, text in zip(_ids(len(q.items)), q.items)], "scoring": q.scoring}
    return {"min_words": q.min_words, "max_words": q.max_words, "grader_info": q.grader_info}


def to_input(qtype: QuestionType, data: dict[str, Any], **common: Any) -> dict[str, Any]:
    """The authoring shape of a stored version (for export and for editing a copy)."""
    body: dict[str, Any] = {"type": qtype.value, **common}
    if qtype in (QuestionType.single_choice, QuestionType.multiple_response):
        choices = []
        for c in data["choices"]:
            entry: dict[str, Any] = {"text": c["text"], "correct": c["correct"], "feedback": c.get("feedback") or {}}
            if qtype is QuestionType.single_choice and not c["correct"] and c.get("credit"):
                entry["credit"] = c["credit"]
            choices.append(entry)
        body.update(choices=choices, shuffle=data.get("shuffle", True))
        if qtype is QuestionType.multiple_response:
            body["scoring"] = data["scoring"]
    elif qtype is QuestionType.true_false:
        body.update(correct=data["correct"], feedback_true=data.get("feedback_true") or {}, feedback_false=data.get("feedback_false") or {})
    elif qtype is QuestionType.short_text:
        body.update(answers=data["answers"], case_sensitive=data["case_sensitive"], whitespace=data["whitespace"])
    elif qtype is QuestionType.numeric:
        body.update(answers=data["answers"])
    elif qtype is QuestionType.matching:
        texts = {m["id"]: m["text"] for m in data["matches"]}
        used = set(data["key"].values())
        body.update(
            pairs=[{"prompt": p["text"], "match": texts[data["key"][p["id"]]]} for p in data["prompts"]],
            distractors=[m["text"] for m in data["matches"] if m["id"] not in used],
            scoring=data["scoring"],
        )
    elif qtype is QuestionType.ordering:
        body.update(items=[i["text"] for i in data["items"]], scoring=data["scoring"])
    else:
        body.update(min_words=data.get("min_words"), max_words=data.get("max_words"), grader_info=data.get("grader_info") or {})
    return body


def search_text(name: str, text: dict[str, str]) -> str:
    return unicodedata.normalize("NFC", " ".join([name, *text.values()]).lower())
