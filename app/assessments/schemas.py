"""Request and response bodies of the assessments API (question content: see `content.py`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from app.assessments.content import CategoryPath, OptionalText, Tag, Title, no_nul
from app.assessments.models import AttemptStatus, FinishReason, GradingMethod, QuestionType, TestPhase

AreaCode = Annotated[str, StringConstraints(max_length=64)]
ReviewItem = Literal["score", "answers", "marks", "correct_answers", "feedback"]
REVIEW_ITEMS: tuple[str, ...] = ("score", "answers", "marks", "correct_answers", "feedback")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# Banks --------------------------------------------------------------------------------------


class BankCreate(_Strict):
    title: Title = Field(examples=[{"en": "Vulnerable persons in asylum procedures", "sr-Latn": "Ranjiva lica u postupku azila"}])
    description: OptionalText = Field(default_factory=dict)
    course_id: uuid.UUID | None = Field(default=None, description="A bank of this course (its instructors)")
    thematic_area: AreaCode | None = Field(
        default=None, description="Or a bank shared by every instructor of a thematic area", examples=["vulnerable-migrants"]
    )

    @model_validator(mode="after")
    def _one_owner(self) -> BankCreate:
        if (self.course_id is None) == (self.thematic_area is None):
            raise ValueError("give either `course_id` or `thematic_area`")
        return self


class BankUpdate(_Strict):
    title: Title | None = None
    description: OptionalText | None = None


class CategoryCreate(_Strict):
    path: CategoryPath = Field(examples=["Vulnerability/Indicators"])


class CategoryOut(BaseModel):
    id: uuid.UUID
    path: str
    question_count: int


class BankOut(BaseModel):
    id: uuid.UUID
    title: dict[str, str]
    description: dict[str, str]
    course_id: uuid.UUID | None
    thematic_area: str | None
    owner_id: uuid.UUID | None
    question_count: int
    categories: list[CategoryOut]
    created_at: dt.datetime
    updated_at: dt.datetime


# Questions ----------------------------------------------------------------------------------


class QuestionOut(BaseModel):
    """The authoring view (staff only): texts in every language and the answer key in `data`."""

    id: uuid.UUID
    bank_id: uuid.UUID
    type: QuestionType
    name: str
    category_id: uuid.UUID | None
    category: str | None
    tags: list[str]
    version: int = Field(description="The current version; editing content adds one")
    points: float
    text: dict[str, str]
    feedback: dict[str, str]
    explanation: dict[str, str]
    data: dict[str, Any] = Field(description="Type-specific content with opaque ids: choices, answers, pairs, items...")
    archived_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class QuestionPage(BaseModel):
    items: list[QuestionOut]
    next_cursor: str | None = None
    next: str | None = None


class QuestionVersionOut(BaseModel):
    question_id: uuid.UUID
    version: int
    type: QuestionType
    name: str
    points: float
    text: dict[str, str]
    feedback: dict[str, str]
    explanation: dict[str, str]
    data: dict[str, Any]
    created_at: dt.datetime
    created_by_id: uuid.UUID | None


class ImportRow(BaseModel):
    index: int = Field(description="1-based position among the file's questions")
    line: int | None = Field(description="GIFT: the line the question starts on")
    name: str | None
    type: QuestionType | None
    category: str | None
    status: Literal["imported", "valid", "refused", "skipped"]
    question_id: uuid.UUID | None = None
    errors: list[str]
    warnings: list[str]


class ImportReport(BaseModel):
    format: Literal["gift", "moodle_xml"]
    dry_run: bool
    imported: int
    refused: int
    skipped: int
    categories_created: list[str]
    questions: list[ImportRow]


# Quizzes ------------------------------------------------------------------------------------


class SlotIn(_Strict):
    question_id: uuid.UUID | None = Field(default=None, description="A fixed question (its latest version when an attempt starts)")
    category_id: uuid.UUID | None = Field(default=None, description="Or draw `count` questions from a category")
    count: int = Field(default=1, ge=1, le=200)
    include_subcategories: bool = False
    tags: list[Tag] = Field(default_factory=list, max_length=10, description="Draw only questions having every tag")
    points: float | None = Field(default=None, gt=0, le=1000, description="Override the questions' own points")

    @model_validator(mode="after")
    def _fixed_or_drawn(self) -> SlotIn:
        if (self.question_id is None) == (self.category_id is None):
            raise ValueError("give either `question_id` or `category_id`")
        if self.question_id is not None and (self.count != 1 or self.tags or self.include_subcategories):
            raise ValueError("`count`, `tags` and `include_subcategories` are for drawn slots")
        return self


class SlotsIn(_Strict):
    slots: list[SlotIn] = Field(max_length=200)


class QuizSettings(_Strict):
    intro: OptionalText = Field(default_factory=dict)
    time_limit_seconds: int | None = Field(default=None, ge=60, le=7 * 86400)
    opens_at: AwareDatetime | None = None
    closes_at: AwareDatetime | None = None
    max_attempts: int | None = Field(default=None, ge=1, le=100, description="Null: unlimited")
    passing_score: float | None = Field(default=None, ge=0, le=1, description="Scaled 0..1; null: no pass/fail")
    grading_method: GradingMethod = GradingMethod.highest
    shuffle_questions: bool = False
    shuffle_choices: bool = True
    test_phase: TestPhase | None = Field(default=None, description="Mark a pre-test or a post-test")
    pre_test_id: uuid.UUID | None = Field(default=None, description="For a post-test: the pre-test quiz it is compared with")
    review_after_submit: list[ReviewItem] = Field(
        default_factory=lambda: ["score"], description="What a learner sees of a submitted attempt while the quiz is open"
    )
    review_after_close: list[ReviewItem] = Field(
        default_factory=lambda: list(REVIEW_ITEMS), description="What a learner sees once the quiz has closed (`closes_at`)"
    )


class QuizCreate(QuizSettings):
    module_id: uuid.UUID = Field(description="A course module of kind `assessment`")
    slots: list[SlotIn] = Field(default_factory=list, max_length=200)


class QuizUpdate(_Strict):
    intro: OptionalText | None = None
    time_limit_seconds: int | None = Field(default=None, ge=60, le=7 * 86400)
    opens_at: AwareDatetime | None = None
    closes_at: AwareDatetime | None = None
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    passing_score: float | None = Field(default=None, ge=0, le=1)
    grading_method: GradingMethod | None = None
    shuffle_questions: bool | None = None
    shuffle_choices: bool | None = None
    test_phase: TestPhase | None = None
    pre_test_id: uuid.UUID | None = None
    review_after_submit: list[ReviewItem] | None = None
    review_after_close: list[ReviewItem] | None = None


class SlotOut(BaseModel):
    position: int
    question_id: uuid.UUID | None
    question_name: str | None
    category_id: uuid.UUID | None
    category: str | None
    count: int
    include_subcategories: bool
    tags: list[str]
    points: float | None
    available: int | None = Field(description="Drawn slots: questions that can be drawn now")


class LearnerState(BaseModel):
    """The caller's own standing in the quiz."""

    enrolled: bool
    attempts_used: int
    attempts_left: int | None
    open_attempt_id: uuid.UUID | None
    can_start: bool
    reason: Literal["not_enrolled", "not_open", "closed", "no_attempts_left", "no_questions"] | None = Field(
        description="Why a new attempt cannot start"
    )
    grade: float | None = Field(description="The quiz grade (grading method over graded attempts), when the review shows scores")
    passed: bool | None


class QuizOut(BaseModel):
    id: uuid.UUID
    module_id: uuid.UUID
    course_id: uuid.UUID
    language: str
    title: str
    intro: str | None
    time_limit_seconds: int | None
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None
    max_attempts: int | None
    passing_score: float | None
    grading_method: GradingMethod
    shuffle_questions: bool
    shuffle_choices: bool
    test_phase: TestPhase | None
    pre_test_id: uuid.UUID | None
    review_after_submit: list[str]
    review_after_close: list[str]
    question_count: int = Field(description="Questions in each attempt")
    slots: list[SlotOut] | None = Field(default=None, description="Staff who edit the course only")
    translations: dict[str, dict[str, str]] | None = None
    me: LearnerState


# Attempts -----------------------------------------------------------------------------------


class Option(BaseModel):
    id: str
    text: str


class ItemReview(BaseModel):
    """What the quiz's review options let the learner see of one answered question."""

    state: Literal["correct", "partial", "incorrect", "unanswered", "pending"] | None = Field(default=None, description="marks")
    score: float | None = Field(default=None, description="marks")
    comment: str | None = Field(default=None, description="marks: the grader's comment")
    feedback: list[str] | None = Field(default=None, description="feedback")
    correct_response: Any = Field(default=None, description="correct_answers: the key, shaped like a response")
    explanation: str | None = Field(default=None, description="correct_answers")


class ItemOut(BaseModel):
    id: uuid.UUID
    position: int
    type: QuestionType
    points: float
    language: str
    text: str
    choices: list[Option] | None = None
    prompts: list[Option] | None = None
    matches: list[Option] | None = None
    items: list[Option] | None = None
    min_words: int | None = None
    max_words: int | None = None
    response: Any = Field(default=None, description="The saved response (while open, or when the review shows answers)")
    saved_at: dt.datetime | None = None
    review: ItemReview | None = None


class AttemptScore(BaseModel):
    raw: float | None
    max: float
    scaled: float | None
    passed: bool | None


class AttemptSummary(BaseModel):
    id: uuid.UUID
    quiz_id: uuid.UUID
    user_id: uuid.UUID
    number: int
    status: AttemptStatus
    started_at: dt.datetime
    deadline_at: dt.datetime | None = Field(description="When the attempt closes (time limit or the quiz's closing time)")
    seconds_left: int | None = Field(description="While in progress, by the server's clock")
    submitted_at: dt.datetime | None
    finish_reason: FinishReason | None
    time_spent_seconds: int | None
    score: AttemptScore | None = Field(description="When the review shows the score")
    review: list[str] = Field(description="What the review shows now")


class AttemptPage(BaseModel):
    items: list[AttemptSummary]
    next_cursor: str | None = None
    next: str | None = None


class AttemptOut(AttemptSummary):
    items: list[ItemOut]


class AnswerIn(_Strict):
    item_id: uuid.UUID
    response: Any = Field(
        description=(
            "single_choice: a choice id; multiple_response: a list of choice ids; true_false: a boolean; "
            "short_text / essay: a text; numeric: a number or a text such as \"3,5\"; matching: {prompt id: match id}; "
            "ordering: every item id in the chosen order; null clears the answer"
        ),
        examples=["a3f09c1e"],
    )


class AnswersIn(_Strict):
    answers: list[AnswerIn] = Field(min_length=1, max_length=200)


class SubmitIn(_Strict):
    answers: list[AnswerIn] = Field(default_factory=list, max_length=200, description="Last answers, saved before submitting")


class SavedAnswer(BaseModel):
    item_id: uuid.UUID
    saved_at: dt.datetime


class SaveResult(BaseModel):
    attempt_id: uuid.UUID
    saved: list[SavedAnswer]
    deadline_at: dt.datetime | None
    seconds_left: int | None


class ManualGrade(_Strict):
    points: float = Field(ge=0, le=1000, description="At most the question's points in this attempt")
    comment: Annotated[str, StringConstraints(max_length=5000), AfterValidator(no_nul)] | None = None


class QueueEntry(BaseModel):
    attempt_id: uuid.UUID
    item_id: uuid.UUID
    user_id: uuid.UUID
    full_name: str
    submitted_at: dt.datetime | None
    question_id: uuid.UUID
    question_name: str
    text: dict[str, str]
    grader_info: dict[str, str]
    points: float
    response: Any


# Reports ------------------------------------------------------------------------------------


class ScoreBin(BaseModel):
    lower: float
    upper: float
    count: int


class CountryStats(BaseModel):
    country_code: str
    learners: int
    mean_grade: float | None
    passed: int
    pass_rate: float | None


class QuizReport(BaseModel):
    quiz_id: uuid.UUID
    learners: int = Field(description="Learners with at least one attempt (in your scope)")
    attempts: int
    graded_attempts: int
    in_progress: int
    awaiting_grading: int
    graded_learners: int
    mean_grade: float | None = Field(description="Mean of the learners' quiz grades (grading method)")
    median_grade: float | None
    passed: int
    pass_rate: float | None = Field(description="Learners whose grade reaches the passing score / graded learners")
    distribution: list[ScoreBin] = Field(description="Learners' grades in ten bins of 0.1 (the last includes 1.0)")
    by_country: list[CountryStats]


class DistractorStat(BaseModel):
    id: str
    text: str
    correct: bool
    count: int
    share: float


class QuestionStats(BaseModel):
    question_id: uuid.UUID
    version: int
    name: str
    type: QuestionType
    responses: int = Field(description="Graded attempts that had this question")
    unanswered: int
    facility_index: float | None = Field(description="Mean score on the question, 0..1 of its points")
    discrimination_index: float | None = Field(
        description="Correlation (Pearson) of the question's score with the score on the rest of the attempt, -1..1"
    )
    distractors: list[DistractorStat] | None = Field(description="Choice questions: how often each choice was picked")


class QuestionReport(BaseModel):
    quiz_id: uuid.UUID
    attempts: int
    questions: list[QuestionStats]


class PrePostLearner(BaseModel):
    user_id: uuid.UUID
    full_name: str
    country_code: str
    pre: float | None
    post: float | None
    gain: float | None


class PrePostGroup(BaseModel):
    country_code: str | None = Field(description="Null: everybody in your scope")
    learners: int = Field(description="Learners with both a pre-test and a post-test grade")
    mean_pre: float | None
    mean_post: float | None
    mean_gain: float | None


class PrePostReport(BaseModel):
    pre_test_id: uuid.UUID
    post_test_id: uuid.UUID
    overall: PrePostGroup
    countries: list[PrePostGroup]
    learners: list[PrePostLearner]
