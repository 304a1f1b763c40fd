"""Quiz statistics as plain functions (no I/O): grade distribution, pass rate, item analysis
(facility index, discrimination index, distractor frequencies) and pre/post comparison.

Definitions (as in Moodle's quiz statistics, on the attempts given):
- facility index: the mean score on a question as a fraction of its points (0 hard .. 1 easy);
- discrimination index: Pearson's correlation between the score on the question and the score
  on the rest of the attempt (the attempt without that question), both as fractions; null with
  fewer than two attempts or when either score never varies;
- distractor frequencies: how many attempts picked each choice (multiple response: each ticked
  box counts), and the share of the attempts that had the question.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


def rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def distribution(grades: Sequence[float], bins: int = 10) -> list[tuple[float, float, int]]:
    """(lower, upper, count) of grades in `bins` equal bins of 0..1; the last one includes 1."""
    counts = [0] * bins
    for g in grades:
        index = min(bins - 1, max(0, math.floor(g * bins + 1e-9)))
        counts[index] += 1
    return [(round(i / bins, 4), round((i + 1) / bins, 4), counts[i]) for i in range(bins)]


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    if len(xs) < 2 or len(xs) != len(ys):
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return sxy / math.sqrt(sxx * syy)


@dataclass
class ItemScore:
    """One question in one graded attempt."""

    credit: float  # score / points
    points: float
    score: float
    answered: bool
    chosen: list[str] = field(default_factory=list)  # choice ids picked (choice questions)


@dataclass
class ItemAnalysis:
    responses: int
    unanswered: int
    facility: float | None
    discrimination: float | None
    choice_counts: dict[str, int]


def analyse_item(entries: Sequence[tuple[ItemScore, float, float]]) -> ItemAnalysis:
    """`entries`: (the item's score, the attempt's raw score, the attempt's maximum) per attempt."""
    credits: list[float] = []
    rest: list[float] = []
    counts: dict[str, int] = {}
    unanswered = 0
    for item, raw, maximum in entries:
        credits.append(item.credit)
        remaining = maximum - item.points
        rest.append((raw - item.score) / remaining if remaining > 0 else 0.0)
        if not item.answered:
            unanswered += 1
        for cid in item.chosen:
            counts[cid] = counts.get(cid, 0) + 1
    return ItemAnalysis(
        responses=len(entries),
        unanswered=unanswered,
        facility=rounded(statistics.fmean(credits)) if credits else None,
        discrimination=rounded(pearson(credits, rest)),
        choice_counts=counts,
    )


@dataclass
class GroupStats:
    learners: int
    mean_pre: float | None
    mean_post: float | None
    mean_gain: float | None


def pre_post(pairs: Iterable[tuple[float | None, float | None]]) -> GroupStats:
    """Means over the learners that have both grades."""
    both = [(pre, post) for pre, post in pairs if pre is not None and post is not None]
    if not both:
        return GroupStats(0, None, None, None)
    return GroupStats(
        learners=len(both),
        mean_pre=rounded(statistics.fmean(p for p, _ in both)),
        mean_post=rounded(statistics.fmean(q for _, q in both)),
        mean_gain=rounded(statistics.fmean(q - p for p, q in both)),
    )


def _cell(value: Any) -> Any:
    # A cell starting like a formula is text, not a formula, when the CSV opens in a spreadsheet.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()
