"""Quiz reports: results, item analysis and pre/post comparison, as JSON or CSV.

Read by admins, the course's instructors, and coordinators; a coordinator's report covers the
learners of their own country only (the attempt scope filter does it in the query). Attempts
left open past their deadline are closed first, so reports never miss them.
"""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from collections import defaultdict
from typing import Literal

from sqlalchemy.orm import Session

from app.assessments import grading, reports, repository
from app.assessments.attempt_service import close_expired, items_with_versions
from app.assessments.models import AttemptStatus, QuestionType, Quiz, QuizAttempt, TestPhase
from app.assessments.quiz_service import QuizContext, can_manage, get_quiz
from app.assessments.schemas import (
    CountryStats,
    DistractorStat,
    PrePostGroup,
    PrePostLearner,
    PrePostReport,
    QuestionReport,
    QuestionStats,
    QuizReport,
    ScoreBin,
)
from app.auth.principal import Principal
from app.core.errors import Conflict, Forbidden
from app.core.i18n import pick
from app.users.models import Role, User

AttemptSelection = Literal["all", "first"]


class NotPaired(Conflict):
    code = "quiz-not-paired"
    title = "No pre-test/post-test pair"


def _reportable(session: Session, principal: Principal, quiz_id: uuid.UUID, now: dt.datetime) -> QuizContext:
    ctx = get_quiz(session, principal, quiz_id)
    if principal.role is Role.learner:
        raise Forbidden("Learners see their own attempts, not reports.")
    if principal.role is Role.instructor and not can_manage(session, principal, ctx.course.id):
        raise Forbidden("Only the course's instructors see its reports.")
    close_expired(session, now, quiz_id=ctx.quiz.id, limit=10000)
    return ctx


def _grades(session: Session, principal: Principal, quiz: Quiz) -> tuple[list[QuizAttempt], dict[uuid.UUID, float | None]]:
    attempts = repository.attempts(session, principal, quiz.id)
    scores: dict[uuid.UUID, list[float]] = defaultdict(list)
    for a in attempts:  # ordered by user, then attempt number
        scores.setdefault(a.user_id, [])
        if a.status is AttemptStatus.graded and a.score_scaled is not None:
            scores[a.user_id].append(a.score_scaled)
    return attempts, {uid: grading.quiz_grade(quiz.grading_method, s) for uid, s in scores.items()}


def _passed(quiz: Quiz, grade: float | None) -> bool:
    return grade is not None and quiz.passing_score is not None and grade >= quiz.passing_score - 1e-9


def quiz_report(session: Session, principal: Principal, quiz_id: uuid.UUID, now: dt.datetime) -> QuizReport:
    quiz = _reportable(session, principal, quiz_id, now).quiz
    attempts, grades = _grades(session, principal, quiz)
    users = repository.users(session, list(grades))
    graded = {uid: g for uid, g in grades.items() if g is not None}
    values = list(graded.values())
    passed = [uid for uid, g in graded.items() if _passed(quiz, g)]
    by_country: dict[str, list[float]] = defaultdict(list)
    for uid, g in graded.items():
        by_country[users[uid].country_code].append(g)
    countries = sorted({users[uid].country_code for uid in grades})
    return QuizReport(
        quiz_id=quiz.id,
        learners=len(grades),
        attempts=len(attempts),
        graded_attempts=sum(a.status is AttemptStatus.graded for a in attempts),
        in_progress=sum(a.status is AttemptStatus.in_progress for a in attempts),
        awaiting_grading=sum(a.status is AttemptStatus.submitted for a in attempts),
        graded_learners=len(graded),
        mean_grade=reports.rounded(statistics.fmean(values)) if values else None,
        median_grade=reports.rounded(statistics.median(values)) if values else None,
        passed=len(passed),
        pass_rate=reports.rounded(len(passed) / len(graded)) if graded and quiz.passing_score is not None else None,
        distribution=[ScoreBin(lower=lo, upper=hi, count=n) for lo, hi, n in reports.distribution(values)],
        by_country=[
            CountryStats(
                country_code=code,
                learners=sum(1 for uid in grades if users[uid].country_code == code),
                mean_grade=reports.rounded(statistics.fmean(by_country[code])) if by_country[code] else None,
                passed=sum(1 for uid in passed if users[uid].country_code == code),
                pass_rate=reports.rounded(sum(1 for uid in passed if users[uid].country_code == code) / len(by_country[code]))
                if by_country[code] and quiz.passing_score is not None else None,
            )
            for code in countries
        ],
    )


def _selected(attempts: list[QuizAttempt], which: AttemptSelection) -> list[QuizAttempt]:
    graded = [a for a in attempts if a.status is AttemptStatus.graded]
    if which == "first":
        first: dict[uuid.UUID, QuizAttempt] = {}
        for a in graded:
            if a.user_id not in first or a.number < first[a.user_id].number:
                first[a.user_id] = a
        return list(first.values())
    return graded


def _chosen(qtype: QuestionType, response) -> list[str]:
    if grading.is_blank(response):
        return []
    if qtype is QuestionType.single_choice:
        return [response]
    if qtype is QuestionType.multiple_response:
        return list(response)
    if qtype is QuestionType.true_false:
        return ["true" if response else "false"]
    return []


def question_report(
    session: Session, principal: Principal, quiz_id: uuid.UUID, now: dt.datetime, *, which: AttemptSelection,
    languages: list[str],
) -> QuestionReport:
    quiz = _reportable(session, principal, quiz_id, now).quiz
    attempts = _selected(repository.attempts(session, principal, quiz.id), which)
    items, versions = items_with_versions(session, attempts)
    entries: dict[uuid.UUID, list[tuple[reports.ItemScore, float, float]]] = defaultdict(list)
    positions: dict[uuid.UUID, list[int]] = defaultdict(list)
    for a in attempts:
        for item in items[a.id]:
            version = versions[item.question_version_id]
            score = item.score or 0.0
            entry = reports.ItemScore(credit=grading.scaled(score, item.points), points=item.points, score=score,
                                      answered=not grading.is_blank(item.response), chosen=_chosen(version.type, item.response))
            entries[version.id].append((entry, a.score_raw or 0.0, a.score_max))
            positions[version.id].append(item.position)
    stats = []
    for version_id, rows in entries.items():
        version = versions[version_id]
        analysis = reports.analyse_item(rows)
        stats.append((statistics.fmean(positions[version_id]), QuestionStats(
            question_id=version.question_id, version=version.version, name=version.name, type=version.type,
            responses=analysis.responses, unanswered=analysis.unanswered, facility_index=analysis.facility,
            discrimination_index=analysis.discrimination,
            distractors=_distractors(version.type, version.data, analysis, languages),
        )))
    stats.sort(key=lambda pair: (pair[0], pair[1].name))
    return QuestionReport(quiz_id=quiz.id, attempts=len(attempts), questions=[s for _, s in stats])


def _distractors(qtype: QuestionType, data: dict, analysis: reports.ItemAnalysis, languages: list[str]) -> list[DistractorStat] | None:
    def share(count: int) -> float:
        return round(count / analysis.responses, 4) if analysis.responses else 0.0

    if qtype in (QuestionType.single_choice, QuestionType.multiple_response):
        rows = []
        for c in data["choices"]:
            count = analysis.choice_counts.get(c["id"], 0)
            text = (pick(c["text"], languages) or ("", ""))[1]
            rows.append(DistractorStat(id=c["id"], text=text, correct=c["correct"], count=count, share=share(count)))
        return rows
    if qtype is QuestionType.true_false:
        return [
            DistractorStat(id=key, text=key, correct=(key == "true") is data["correct"], count=analysis.choice_counts.get(key, 0),
                           share=share(analysis.choice_counts.get(key, 0)))
            for key in ("true", "false")
        ]
    return None


def _pair(session: Session, quiz: Quiz) -> tuple[Quiz, Quiz]:
    if quiz.test_phase is TestPhase.post and quiz.pre_test_id is not None:
        pre = repository.get_quiz(session, quiz.pre_test_id)
        if pre is not None:
            return pre, quiz
    if quiz.test_phase is TestPhase.pre:
        post = repository.post_test_of(session, quiz.id)
        if post is not None:
            return quiz, post
    raise NotPaired("This quiz is not part of a pre-test/post-test pair: mark a post-test with its `pre_test_id`.")


def pre_post_report(session: Session, principal: Principal, quiz_id: uuid.UUID, now: dt.datetime) -> PrePostReport:
    ctx = _reportable(session, principal, quiz_id, now)
    pre, post = _pair(session, ctx.quiz)
    close_expired(session, now, quiz_id=pre.id if pre.id != ctx.quiz.id else post.id, limit=10000)
    _, pre_grades = _grades(session, principal, pre)
    _, post_grades = _grades(session, principal, post)
    users: dict[uuid.UUID, User] = repository.users(session, list({*pre_grades, *post_grades}))
    learners = []
    for uid, user in sorted(users.items(), key=lambda pair: (pair[1].country_code, pair[1].full_name, str(pair[0]))):
        before, after = pre_grades.get(uid), post_grades.get(uid)
        gain = reports.rounded(after - before) if before is not None and after is not None else None
        learners.append(PrePostLearner(user_id=uid, full_name=user.full_name, country_code=user.country_code,
                                       pre=reports.rounded(before), post=reports.rounded(after), gain=gain))

    def group(code: str | None) -> PrePostGroup:
        stats = reports.pre_post((l.pre, l.post) for l in learners if code is None or l.country_code == code)
        return PrePostGroup(country_code=code, learners=stats.learners, mean_pre=stats.mean_pre, mean_post=stats.mean_post,
                            mean_gain=stats.mean_gain)

    return PrePostReport(
        pre_test_id=pre.id, post_test_id=post.id, overall=group(None),
        countries=[group(code) for code in sorted({l.country_code for l in learners})], learners=learners,
    )


# CSV ----------------------------------------------------------------------------------------


def attempts_csv(session: Session, principal: Principal, quiz_id: uuid.UUID, now: dt.datetime) -> str:
    quiz = _reportable(session, principal, quiz_id, now).quiz
    attempts = repository.attempts(session, principal, quiz.id)
    users = repository.users(session, [a.user_id for a in attempts])
    header = ["attempt_id", "user_id", "full_name", "email", "country", "attempt", "status", "started_at", "submitted_at",
              "finish_reason", "time_spent_seconds", "score_raw", "score_max", "score_scaled", "passed"]
    rows = [
        [a.id, a.user_id, users[a.user_id].full_name, users[a.user_id].email, users[a.user_id].country_code, a.number,
         a.status.value, a.started_at.isoformat(), a.submitted_at.isoformat() if a.submitted_at else None,
         a.finish_reason.value if a.finish_reason else None, a.time_spent_seconds, a.score_raw, a.score_max, a.score_scaled,
         None if a.passed is None else str(a.passed).lower()]
        for a in attempts
    ]
    return reports.to_csv(header, rows)


def questions_csv(report: QuestionReport) -> str:
    header = ["question_id", "version", "name", "type", "responses", "unanswered", "facility_index", "discrimination_index"]
    rows = [[q.question_id, q.version, q.name, q.type.value, q.responses, q.unanswered, q.facility_index, q.discrimination_index]
            for q in report.questions]
    return reports.to_csv(header, rows)


def pre_post_csv(report: PrePostReport) -> str:
    header = ["user_id", "full_name", "country", "pre", "post", "gain"]
    return reports.to_csv(header, [[l.user_id, l.full_name, l.country_code, l.pre, l.post, l.gain] for l in report.learners])
