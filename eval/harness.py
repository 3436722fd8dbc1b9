"""Score search responses (the API contract) against the fixed question set."""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

from eval.matching import passage_matches, span_matches
from eval.questions import Evidence, Question

SearchFn = Callable[[str], dict]
# (document id, page number) -> that page's text, or None: lets page accuracy be judged by the text.
PageTextFn = Callable[[str, int], "str | None"]
DEPTH = 10


@dataclass
class QuestionResult:
    question: Question
    response: dict
    seconds: float
    matching_ranks: list[int] = field(default_factory=list)
    page_ok: bool | None = None
    answer_page_ok: bool | None = None
    span_ok: bool | None = None
    files_covered: set[str] = field(default_factory=set)

    @property
    def first_rank(self) -> int | None:
        return self.matching_ranks[0] if self.matching_ranks else None


def matched_evidence(passage: dict, evidence: tuple[Evidence, ...]) -> list[Evidence]:
    return [e for e in evidence if passage["document"]["file"] == e.file and passage_matches(e.quote, passage["text"])]


def score_response(question: Question, response: dict, seconds: float,
                   page_text: PageTextFn | None = None) -> QuestionResult:
    result = QuestionResult(question, response, seconds)
    first_match = None
    for passage in response["passages"][:DEPTH]:
        matched = matched_evidence(passage, question.evidence)
        if matched:
            result.matching_ranks.append(passage["rank"])
            result.files_covered.update(e.file for e in matched)
            if first_match is None:
                first_match = (passage, matched)
    if first_match is not None and first_match[0]["rank"] <= 5:
        passage, matched = first_match
        cited = set(range(passage["page_start"], passage["page_end"] + 1))
        answer_page = passage.get("answer_page", passage["page_start"])
        result.page_ok = any(set(e.pages) & cited for e in matched)
        result.answer_page_ok = any(answer_page in e.pages for e in matched)
        if page_text is not None:
            # The question set names the first page a quote is on; a report can repeat a paragraph
            # (Telford's resolutions are on pages 2 and 3), and a citation of the repeat is right too.
            doc_id = passage["document"]["id"]
            cited_text = "\n".join(page_text(doc_id, n) or "" for n in sorted(cited))
            result.page_ok = result.page_ok or any(passage_matches(e.quote, cited_text) for e in matched)
            answer_text = page_text(doc_id, answer_page) or ""
            result.answer_page_ok = result.answer_page_ok or any(
                passage_matches(e.quote, answer_text) or span_on_page(passage["answer"], answer_text)
                for e in matched)
        result.span_ok = any(span_matches(e.quote, passage["answer"]) for e in matched)
    return result


def span_on_page(answer: str, page: str) -> bool:
    """The page holds most of the marked answer (search cites the page that holds most of it)."""
    return passage_matches(answer, page, share=0.5)


def run_questions(questions: list[Question], search: SearchFn,
                  page_text: PageTextFn | None = None) -> list[QuestionResult]:
    results = []
    for q in questions:
        started = time.perf_counter()
        response = search(q.question)
        results.append(score_response(q, response, time.perf_counter() - started, page_text))
    return results


def _mean(values) -> float | None:
    values = [float(v) for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _ndcg(result: QuestionResult) -> float:
    gains = [1.0 if r in result.matching_ranks else 0.0 for r in range(1, DEPTH + 1)]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    # the relevant passages known: one per evidence quote, or more where several passages hold a quote (chunks
    # overlap, a report repeats a paragraph); the ideal list ranks them all first, so nDCG is at most 1
    ideal_hits = min(DEPTH, max(1, len(result.question.evidence), int(sum(gains))))
    idcg = sum(1.0 / math.log2(i + 2) for i in range(ideal_hits))
    return dcg / idcg


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def chance_ceiling(n: int, rate: float, significance: float = 0.05) -> int:
    """The smallest count c such that a system failing each of n questions at `rate` fails more than c of them with
    probability under `significance` (binomial): more failures than c are a regression, not the noise of n questions."""
    if not 0.0 <= rate <= 1.0 or not 0.0 < significance < 1.0 or n < 0:
        raise ValueError("rate in [0, 1], significance in (0, 1) and n >= 0")
    below = 0.0  # P(X <= count)
    for count in range(n + 1):
        below += math.comb(n, count) * rate ** count * (1.0 - rate) ** (n - count)
        if 1.0 - below < significance:
            return count
    return n


def summarise(results: list[QuestionResult]) -> dict:
    answerable = [r for r in results if r.question.answerable]
    unanswerable = [r for r in results if r.question.scored and not r.question.answerable]
    multi = [r for r in answerable if len({e.file for e in r.question.evidence}) > 1]
    latencies = [r.seconds * 1000 for r in results]
    summary = {
        "questions": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        **{f"recall@{k}": _mean(r.first_rank is not None and r.first_rank <= k for r in answerable)
           for k in range(1, DEPTH + 1)},
        "mrr@10": _mean((1.0 / r.first_rank) if r.first_rank else 0.0 for r in answerable),
        "ndcg@10": _mean(_ndcg(r) for r in answerable),
        "page_accuracy": _mean(r.page_ok for r in answerable),
        "answer_page_accuracy": _mean(r.answer_page_ok for r in answerable),
        "span_accuracy": _mean(r.span_ok for r in answerable),
        "abstention": _mean(not r.response["answered"] for r in unanswerable),
        "false_abstention": _mean(not r.response["answered"] for r in answerable),
        "multi_coverage@10": _mean(r.files_covered >= {e.file for e in r.question.evidence} for r in multi),
        "latency_ms_p50": statistics.median(latencies) if latencies else None,
        "latency_ms_p95": percentile(latencies, 0.95),
    }
    return summary


def summarise_by_kind(results: list[QuestionResult]) -> dict[str, dict]:
    kinds = sorted({r.question.kind for r in results if r.question.kind})
    return {kind: summarise([r for r in results if r.question.kind == kind]) for kind in kinds}


def abstention_curve(results: list[QuestionResult], threshold_used: float | None = None) -> list[dict]:
    """The abstention trade-off: for each threshold at which one more unanswerable question abstains (just
    above its confidence), the share of unanswerable questions that abstain and of answerable ones that
    falsely do. A question answered below threshold_used (search answers a question about a term the
    reports define whatever its confidence) is answered at every threshold; without threshold_used, one
    answered below the confidence of a question that abstained is. Empty when responses carry no confidence."""
    answerable = [r for r in results if r.question.answerable]
    unanswerable = [r for r in results if r.question.scored and not r.question.answerable]
    if not answerable or not unanswerable or any("confidence" not in r.response for r in results):
        return []
    if threshold_used is None:
        threshold_used = max((r.response["confidence"] for r in results if not r.response["answered"]), default=0.0)
    always = {id(r) for r in results if r.response["answered"] and r.response["confidence"] < threshold_used}

    def abstains(r: QuestionResult, threshold: float) -> bool:
        return r.response["confidence"] < threshold and id(r) not in always

    steps = sorted({round(r.response["confidence"], 4) for r in unanswerable})
    rows = []
    for threshold in [steps[0] - 1e-4, *(c + 1e-4 for c in steps)]:
        rows.append({"threshold": round(threshold, 4),
                     "abstention": _mean(abstains(r, threshold) for r in unanswerable),
                     "false_abstention": _mean(abstains(r, threshold) for r in answerable)})
    return rows
