"""Search: question -> ranked, cited passages with the answering sentence marked.

Kept apart from the model: the encoder is passed in, the index is read-only, and the
ranking is plain functions over the candidates of each side (lexical BM25, dense).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from ingest.chunking import sentence_spans
from retriever.abstention import AbstentionModel, Calibration, load_calibration
from retriever.adaptation import ADAPTED_FAMILY, model_family
from retriever.encoder import MODEL_NAME, Encoder
from retriever.onnx_encoder import INT8_SUFFIX
from retriever.lexical import query_bigrams, query_terms, stem, stems
from retriever.cues import answer_type_pattern, asked_acronyms, decision_heading, introduces_pattern, states
from retriever.question_form import QuestionForm, shipped_question_form
from retriever.query import QueryPlan, QueryVocabulary, defines_pattern, plan_query, query_vocabulary
from retriever.results import Answer, DocumentRef, Passage
from retriever.spelling import EnglishWords, Suggestion, corrected_question, suggest_corrections
from retriever.store import ChunkRecord, IndexReader, WindowBatch
from retriever.vectors import search_vectors

MODES = ("hybrid", "dense", "lexical")
KINDS = ("decision",)


@dataclass(frozen=True)
class SearchConfig:
    mode: str = "hybrid"
    candidates: int = 50
    rrf_k: int = 60
    lexical_weight: float = 1.0
    expand_acronyms: bool = True
    council_boost: float = 0.5  # rrf fusion: the named council's passages' scores x 1.5
    # A council named in the question: its passages come first (the page says "Searching X first"), then
    # the others; each group by score. A bonus of 0.3 let another council's closer match outrank it.
    council_first: bool = True
    decision_boost: float = 0.3
    dedupe: bool = True
    # Dense score of a chunk: (1 - window_weight) * its own cosine + window_weight * its best window's.
    window_weight: float = 0.5
    # Mark the answer with the window embeddings (False: by shared words only).
    sentence_embeddings: bool = True
    # Abstention reads the dense score of the best passage and the IDF-weighted share of the question's words
    # that one of the top coverage_depth passages holds (the most any one holds), "best" and "top" by words and
    # meaning alone (bonuses for kinds of passage and the council-first order move passages, not the evidence).
    # "logistic": the confidence is the probability that the reports answer, by the model calibrated for the
    # index's model (ABSTENTION_MODELS, retriever/abstention.py), which also reads the typed coverage and the
    # share of the question's words no chunk holds. "sum": dense score + coverage_weight * coverage, with the
    # thresholds of ANSWER_THRESHOLDS (the rule before, kept for comparison). Below answer_threshold the reports
    # are taken not to answer; None: the threshold calibrated for the index's model.
    abstention: str = "logistic"
    # An archive's own abstention model (retriever/abstention.py, Calibration), used instead of the built-in one
    # while the index is embedded by the model it was fitted for.
    calibration: Calibration | None = None
    coverage_weight: float = 1.0
    coverage_depth: int = 3
    # True: the words held by one passage; False: by the top passages together. "What Ofsted rating did Walsall
    # get in 2017" finds Ofsted in one passage, 2017 in a second and a rating in a third, and none answers it.
    coverage_in_one_passage: bool = True
    # "How many ...?" / "when ...?": the coverage is the share one window that states a quantity (or a date) holds
    # (typed_share of it; the rest is one passage's share), so a question asking for a figure the reports never
    # give is less sure of an answer. 1.0, not 0.5: chosen on the fixed and five held-out sets (AUC, answerable
    # against unanswerable, 0.813 -> 0.828), then kept by a rule written before a sixth existed (0.673 -> 0.707).
    # typed_share mixes the two for the sum rule only: the abstention model weighs both shares itself.
    typed_coverage: bool = True
    typed_share: float = 1.0
    # The abstention model also reads the question's words alone (retriever/question_form.py); False: every
    # question reads as one whose words were never counted (the ablation row).
    question_form: bool = True
    # hybrid fusion: "rrf" (reciprocal rank fusion) or "linear" (dense score + term_weight * IDF share).
    fusion: str = "linear"
    term_weight: float = 0.6
    # The four bonuses for kinds of passage the question asks for (decision, definition, answer type, acronym
    # introduction) share one weight: on the question set 0.15, 0.2 and 0.25 rank alike and above 0.1.
    linear_decision_bonus: float = 0.15
    # "what is X?": a passage with a sentence that opens "X is ..." / "X (Y) means ..." defines it.
    linear_definition_bonus: float = 0.15
    # Pairs of the question's words that the passage has side by side ("local inquiry", "taxi licensing").
    phrase_weight: float = 0.2
    # A passage under a heading that records decisions ("RECOMMENDATIONS", "RESOLVED that -") is a decision
    # too, for the decision bonus, though its own text does not say so ("2.2 Cabinet delegate authority ...").
    decision_headings: bool = True
    # "How many ...?", "what percentage ...?", "when ...?": a passage whose closest sentence (best window) states
    # a quantity (a number in running text, a % or a £) or a date (a year, a month) answers that kind of question.
    linear_answer_type_bonus: float = 0.15
    # "CEOP" / "what does CEOP stand for": a passage that introduces the acronym (its long form with the acronym
    # in brackets, "Child Exploitation and Online Protection Centre (CEOP)", or a line opening "CEOP - ...").
    linear_introduction_bonus: float = 0.15
    # A passage of a Walsall report is about Walsall though its text may not say so: for the share of the
    # question's words a passage holds, it also holds the words of its report's council.
    council_in_passages: bool = True
    # A word of the question no report holds and English lacks, one edit from a report word ("Chalise"), is taken
    # for a slip: the question is searched as the reports spell it (retriever/spelling.py). With a slip in one of
    # its words, a question abstained half the time (python -m eval.typos).
    spelling: bool = True
    answer_threshold: float | None = None

    def __post_init__(self):
        if self.abstention not in ("logistic", "sum"):
            raise ValueError(f"unknown abstention {self.abstention!r}; choose logistic or sum")


# The earlier rule (abstention="sum"): the confidence below which the reports are taken not to answer, by the
# family of the model that made the index's vectors: int8 weights move confidences (one answerable question by
# 0.14), and the model adapted to the reports at ingest scores on its own scale. Each calibrated on the fixed
# question set (`python -m eval --configs "- abstention model (sum of signals)"` prints the trade-off): the middle
# of the gap between the unanswerable question scored highest that still abstains and the answerable one next
# above it, 8 of 10 unanswerable abstaining. Packaged: fp32 1.0222 / 1.0617, int8 1.0342 / 1.0457 (one of 78
# answerable questions below either). Adapted: fp32 0.7976 / 0.8401, int8 0.7970 / 0.8602 (one answerable below
# each). Narrow gaps: on the held-out questions (eval/holdout*_questions.jsonl) the same threshold abstains on
# fewer, and on more answerable ones (README).
ANSWER_THRESHOLDS = {MODEL_NAME: 1.042, MODEL_NAME + INT8_SUFFIX: 1.040,
                     # adapted to whichever reports: keyed by the family, not the digest of one adaptation
                     MODEL_NAME + ADAPTED_FAMILY: 0.819, MODEL_NAME + ADAPTED_FAMILY + INT8_SUFFIX: 0.829}

# The abstention model for each family of the model that made the index's vectors (abstention="logistic"): fitted on
# the fixed and thirty-seven held-out question sets (2,060 questions, 496 the reports do not answer), its threshold the
# one abstaining on the most unanswerable questions with at most 5% of the answerable ones abstaining. Each held-out
# question's question form (the sixth coefficient; retriever/question_form.py) is counted without its own set, as a
# new question's would be. The packaged families' by `python -m eval.calibrate` (the packaged model is never taught,
# so none of them is in sample for its ranking); the adapted families', whose model is taught the held-out sets'
# answers (retriever/teaching.py), by `python -m eval.teaching`, each question's features from a model not taught it.
# Left one set out (fitted and thresholded on the others, the question form counted without the set left out too):
# adapted fp32 0.512 abstention / 0.052 false abstention, int8 0.510 / 0.050; packaged fp32 0.484 / 0.051, int8
# 0.492 / 0.050. The last eight sets (the thirtieth to thirty-seventh) were written to the mixed brief
# (docs/question-sets.md), a third of them unanswerable and worded as definitions, decisions and situations too. The
# question form was kept by rules AG, AI and AK (docs/experiments.md, the twenty-eighth to thirtieth sessions; over the
# fixed and twenty-nine old-brief sets, 0.565 / 0.052 with it and 0.335 / 0.052 without). The
# logistic model itself was kept by a rule written before the ninth held-out set existed (AUC there 0.900 against
# the sum's 0.796), and beat the sum on each of the nine later sets it was scored on, fitted on the sets before each
# (the earlier comment, with those figures: docs/experiments.md, "ABSTENTION_MODELS' comment as it stood").
ABSTENTION_MODELS = {
    MODEL_NAME: AbstentionModel(
        (1.88215, -0.351213, 3.213581, 0.33068, -1.020397, 0.179089), -2.698969, 0.506612),
    MODEL_NAME + INT8_SUFFIX: AbstentionModel(
        (1.940886, -0.534511, 3.423333, 0.367417, -0.997777, 0.179635), -2.750837, 0.510106),
    # adapted to whichever reports: keyed by the family, not the digest of one adaptation
    MODEL_NAME + ADAPTED_FAMILY: AbstentionModel(
        (3.459435, -0.570122, 3.386008, 0.277751, -0.898296, 0.181569), -3.264681, 0.512639),
    MODEL_NAME + ADAPTED_FAMILY + INT8_SUFFIX: AbstentionModel(
        (3.741782, -0.395326, 3.194413, 0.230394, -0.915935, 0.181688), -3.374566, 0.512357),
}


class UnknownFilter(ValueError):
    def __init__(self, field: str, value: str, valid: list[str]):
        super().__init__(f"unknown {field} {value!r}; valid values: {', '.join(valid)}")
        self.field, self.value, self.valid = field, value, valid


@dataclass(frozen=True)
class _WindowScores:
    """The answer windows of one search's candidates with their cosines to the question, shared by the
    candidates: a candidate keeps its row, not slices of its own (most are never marked)."""

    batch: WindowBatch
    cosines: np.ndarray  # one per window row of the batch

    def of(self, row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cosines, starts and ends of the windows of the batch's chunk at `row`."""
        a, b = self.batch.offsets[row], self.batch.offsets[row + 1]
        return self.cosines[a:b], self.batch.starts[a:b], self.batch.ends[a:b]


@dataclass
class _Candidate:
    chunk_id: int
    score: float
    record: ChunkRecord | None = None
    cosine: float = 0.0
    window_cosine: float = 0.0  # the best window's
    dense: float = 0.0  # the dense score: cosine and best window cosine, weighted (SearchConfig.window_weight)
    evidence: float = 0.0  # the linear score before the bonuses for kinds of passage
    windows: _WindowScores | None = None
    row: int = -1  # the candidate's chunk in windows.batch; -1: it has no windows

    def window_scores(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Cosines, starts and ends of the candidate's answer windows (None: it has none, or no question vector)."""
        return self.windows.of(self.row) if self.windows is not None and self.row >= 0 else None


@dataclass(frozen=True)
class SearchResult:
    """An Answer plus what search inferred from the question (shown so a person can undo it)."""

    answer: Answer
    inferred_council: str | None
    expansions: tuple[tuple[str, str], ...]
    confidence: float = 0.0
    signals: dict = field(default_factory=dict, compare=False)
    # the question with its words that look like slips spelt as the reports spell them ("Operation Chalise");
    # searched in its place unless search was asked not to (correct=False), and said either way
    suggestion: Suggestion | None = None
    suggestion_searched: bool = False
    # the words of the question searched (stop words left out), and those no report holds in any form search
    # matches: shown so a person sees why the reports may not answer ("Not in any report: injunctions")
    words: tuple[str, ...] = ()
    missing_words: tuple[str, ...] = ()

    @property
    def question(self) -> str:
        return self.answer.question

    @property
    def answered(self) -> bool:
        return self.answer.answered

    @property
    def passages(self) -> tuple[Passage, ...]:
        return self.answer.passages

    def to_dict(self) -> dict:
        return {**self.answer.to_dict(),
                "confidence": round(self.confidence, 4),
                "inferred": {"council": self.inferred_council},
                "expansions": [{"term": t, "expansion": e} for t, e in self.expansions],
                "spelling": ({**self.suggestion.to_dict(), "searched": self.suggestion_searched}
                             if self.suggestion else None),
                "words": list(self.words),
                "missing_words": list(self.missing_words)}


class Searcher:
    def __init__(self, index: IndexReader, encoder: Encoder, config: SearchConfig = SearchConfig()):
        self.index = index
        self.encoder = encoder
        self.config = config

    def with_config(self, **changes) -> "Searcher":
        return Searcher(self.index, self.encoder, replace(self.config, **changes))

    @property
    def question_form(self) -> QuestionForm:
        """What a question's words alone say (retriever/question_form.py): the counts shipped with the package."""
        return shipped_question_form()

    @cached_property
    def vocabulary(self) -> QueryVocabulary:
        """The index's councils and acronyms as reading a question uses them, made on first use (without
        acronym expansion, no acronyms: the question is embedded and its words searched as they stand)."""
        return query_vocabulary(list(self.index.documents.values()),
                                self.index.terms if self.config.expand_acronyms else [])

    @property
    def answer_threshold(self) -> float:
        """The configured threshold, or the one calibrated for the index's model (the fp32 model's if none is)."""
        if self.config.answer_threshold is not None:
            return self.config.answer_threshold
        if self.config.abstention == "logistic":
            return self.abstention_model.threshold
        return ANSWER_THRESHOLDS.get(self._model_family, ANSWER_THRESHOLDS[MODEL_NAME])

    @property
    def abstention_model(self) -> AbstentionModel:
        """The archive's own abstention model if it was fitted for the index's model; else the one calibrated for
        the model's family (the packaged fp32 model's if none is)."""
        if self.uses_own_calibration:
            return self.config.calibration.abstention
        return ABSTENTION_MODELS.get(self._model_family, ABSTENTION_MODELS[MODEL_NAME])

    @property
    def uses_own_calibration(self) -> bool:
        """Whether the archive's own abstention model serves (it was fitted for the index's model)."""
        own = self.config.calibration
        return own is not None and own.model == self.index.manifest.get("model")

    @property
    def _model_family(self) -> str:
        """What calibrations are keyed by: the index's model without an adapted model's digest."""
        return model_family(self.index.manifest.get("model") or "")

    def councils(self) -> list[str]:
        return sorted({d.council for d in self.index.documents.values() if d.council})

    def resolve_filters(self, council: str | None, document: str | None) -> list[str] | None:
        """Document ids allowed by the filters, or None for all; unknown values raise UnknownFilter."""
        docs = list(self.index.documents.values())
        if council:
            wanted = council.strip().casefold()
            docs = [d for d in docs if wanted in (d.council.casefold(), d.council_full.casefold())]
            if not docs:
                raise UnknownFilter("council", council, self.councils())
        if document:
            wanted = document.strip()
            matching = [d for d in docs if wanted in (d.id, d.file) or wanted in d.also_files]
            if not matching:
                valid = sorted(d.id for d in self.index.documents.values())
                raise UnknownFilter("document", document, valid)
            docs = matching
        return None if not (council or document) else [d.id for d in docs]

    def search(self, question: str, k: int = 5, council: str | None = None, document: str | None = None,
               kind: str | None = None, infer: bool = True, correct: bool = True) -> "SearchResult":
        """The passages that answer the question, best first. infer=False: no council inferred from the question;
        correct=False: its words that look like slips are searched as typed (the correction is still offered)."""
        if kind is not None and kind not in KINDS:
            raise UnknownFilter("kind", kind, list(KINDS))
        doc_ids = self.resolve_filters(council, document)
        cfg = self.config
        suggestion = self.spelling_suggestion(question) if cfg.spelling else None
        corrected = suggestion is not None and correct
        searched = suggestion.question if corrected else question
        plan = plan_query(searched, self.vocabulary, infer=infer and not council)
        depth = cfg.candidates if kind is None else cfg.candidates * 4
        vector = self.encoder.encode([plan.dense_text])[0] if cfg.mode != "lexical" else None
        lexical = self._lexical(plan, depth, doc_ids) if cfg.mode != "dense" else []
        candidates = self._candidates(plan, vector, doc_ids, kind, depth, lexical)
        passages = self._passages(candidates, plan, vector, k)
        terms = query_terms(searched)
        counts = self.index.term_counts(terms)
        confidence, signals = self._confidence(candidates, searched, counts, question)
        # "What is X?" where a report defines X (its glossary, "Long Form (X)"): the reports answer it,
        # however few of the question's other words ("stand for") the passages hold.
        subjects = {d.lower() for d in plan.defines}
        defined = any(term.lower() in subjects for term, _ in plan.expansions)
        answered = bool(candidates) and (cfg.mode == "lexical" or defined or confidence >= self.answer_threshold)
        return SearchResult(Answer(question=question, answered=answered, passages=tuple(passages)),
                            plan.council, plan.expansions, confidence, signals, suggestion, corrected,
                            words=tuple(terms), missing_words=tuple(t for t in terms if not counts[t]))

    def spelling_suggestion(self, question: str) -> Suggestion | None:
        """The question as the reports would spell it, when a word of it looks like a slip (retriever/spelling.py)."""
        corrections = suggest_corrections(query_terms(question), self.index.report_words, EnglishWords())
        return corrected_question(question, corrections)

    # -- candidates and ranking -------------------------------------------------------------
    def _lexical(self, plan: QueryPlan, n: int, doc_ids: list[str] | None) -> list[tuple[int, float]]:
        """Top n chunks by BM25 over the question's words."""
        terms = ranking_terms(self.index.term_counts(list(plan.lexical_terms)), self.index.chunk_count)
        return self.index.lexical_search(terms, n, doc_ids)

    def _candidates(self, plan: QueryPlan, vector: np.ndarray | None, doc_ids: list[str] | None,
                    kind: str | None, n: int, lexical: list[tuple[int, float]]) -> list[_Candidate]:
        """Chunks found by either side (lexical: _lexical's result, n deep), scored and ranked."""
        cfg = self.config
        found: set[int] = set()
        linear = cfg.mode == "hybrid" and cfg.fusion == "linear"
        if vector is not None:
            # Linear hybrid with windows: the chunks closest by a window and the lexical side's hold nearly
            # every chunk the chunk vectors' own top n adds to a result list (without it the question set's
            # metrics are the same; 2 of 148 lists differ, below rank 3); each candidate's chunk cosine is
            # still scored. ~0.4 ms less per search. Dense-only and rank fusion keep it: it is their dense rank.
            if not linear or cfg.window_weight <= 0:
                allowed = self.index.chunk_ids_for_documents(doc_ids) if doc_ids is not None else None
                found.update(i for i, _ in search_vectors(self.index.vectors, vector, n, allowed,
                                                          skip_removed=self.index.removed_vectors > 0))
            if cfg.window_weight > 0:
                allowed_windows = self.index.window_ids_for_documents(doc_ids) if doc_ids is not None else None
                hits = search_vectors(self.index.window_vectors, vector, n * 2, allowed_windows,
                                      skip_removed=self.index.removed_window_vectors > 0)
                found.update(self.index.window_chunks([i for i, _ in hits]).values())
        ids = list(found) if cfg.mode == "dense" else list(found | {i for i, _ in lexical})
        records = self.index.chunks(ids)
        candidates = [_Candidate(i, 0.0, records[i]) for i in ids if i in records]
        if kind is not None:
            candidates = [c for c in candidates if c.record.kind == kind]
        dense_rank: dict[int, int] = {}
        if vector is not None and candidates:
            self._score_dense(candidates, vector)
            if not linear:  # rank fusion and dense-only rank by the dense score
                ranked = sorted(candidates, key=lambda c: -c.dense)
                dense_rank = {c.chunk_id: r for r, c in enumerate(ranked[:n])}
        if linear:
            self._score_linear(candidates, plan)
        else:
            self._score_by_rank(candidates, plan, dense_rank, {i: r for r, (i, _) in enumerate(lexical)})
        candidates = [c for c in candidates if c.score > 0]
        if plan.council and cfg.council_first:
            # "Searching Telford & Wrekin first": the named council's passages, then the others, each by score.
            candidates.sort(key=lambda c: (self.index.documents[c.record.doc_id].council != plan.council, -c.score))
        else:
            candidates.sort(key=lambda c: -c.score)
        return candidates

    def _score_dense(self, candidates: list[_Candidate], vector: np.ndarray) -> None:
        """Each candidate's cosine, its windows' cosines (kept for marking the answer) and its dense score."""
        chunk_ids = [c.chunk_id for c in candidates]
        cosines = np.einsum("ij,j->i", self.index.chunk_vectors(chunk_ids), vector).astype(np.float64)
        windows = self.index.window_batch(chunk_ids)
        # every window of every candidate in one product; each chunk's best by reduceat over its rows
        scores = _WindowScores(windows, np.einsum("ij,j->i", windows.vectors, vector))
        rows = np.full(len(candidates), -1, dtype=np.int64)
        if len(windows.chunk_ids):
            # the batch keeps the candidates' order, leaving out those without windows
            rows[np.flatnonzero(np.isin(chunk_ids, windows.chunk_ids))] = np.arange(len(windows.chunk_ids))
            best = np.maximum.reduceat(scores.cosines, windows.offsets[:-1])[rows].astype(np.float64)
        else:
            best = np.zeros(len(candidates))
        has_windows = rows >= 0
        best[~has_windows] = 0.0
        w = self.config.window_weight
        # (1 - w) * cosine + w * best window, or the cosine alone for a chunk without windows
        dense = np.where(has_windows, (1 - w) * cosines + w * best, cosines)
        for c, cosine, window, score, row in zip(candidates, cosines.tolist(), best.tolist(), dense.tolist(),
                                                 rows.tolist()):
            c.cosine, c.window_cosine, c.dense, c.windows, c.row = cosine, window, score, scores, row

    def _score_linear(self, candidates: list[_Candidate], plan: QueryPlan) -> None:
        """Scores, not ranks: how close each passage is in meaning, plus how much of the question's
        distinctive vocabulary it holds; RRF throws both magnitudes away. Then the bonuses for kinds of
        passage the question asks for."""
        cfg = self.config
        term_weights = self._term_weights(list(plan.lexical_terms))
        term_total = sum(term_weights.values())
        definition = defines_pattern(plan.defines) if cfg.linear_definition_bonus else None
        # A passage can define X only if it holds every word of X (or of X's other name): most candidates don't.
        defined_stems = [stems(subject) for subject in plan.defines]
        asked = asked_acronyms(plan) if cfg.linear_introduction_bonus else ()
        introduction = introduces_pattern(asked)
        # the pattern needs one of the acronyms: a substring test skips most candidates before the regex
        asked_lowered = [a.lower() for a in asked]
        answer_type = answer_type_pattern(plan.question) if cfg.linear_answer_type_bonus else None
        phrases = question_phrases(plan.question, term_weights) if cfg.phrase_weight else []
        wanted = frozenset(t for t, w in term_weights.items() if w)
        phrase_total = sum(p.weight for p in phrases)
        decisions = plan.wants_decision and cfg.linear_decision_bonus
        # Candidates holding the same terms share a term share, and those whose text holds the same terms the
        # phrases they could hold (both words in the text): most hold none, so most skip the phrase scan.
        shares: dict[frozenset[str], float] = {}
        possible_phrases: dict[frozenset[str], list[_Phrase]] = {}
        for c in candidates:
            record = c.record
            read = _chunk_text(record.heading, record.text)
            in_text = (read.stems & wanted) if wanted else frozenset()
            held = in_text | self._council_held(record, wanted)
            share = shares.get(held)
            if share is None:
                share = shares[held] = _weighted_share(term_weights, held, term_total)
            score = c.dense + cfg.term_weight * share
            if phrase_total:
                possible = possible_phrases.get(in_text)
                if possible is None:
                    possible = possible_phrases[in_text] = [p for p in phrases
                                                            if p.stems[0] in in_text and p.stems[1] in in_text]
                score += cfg.phrase_weight * _phrases_held(possible, read.lowered) / phrase_total
            c.evidence = score
            if decisions and (record.kind == "decision" or
                              (cfg.decision_headings and decision_heading(record.heading))):
                score += cfg.linear_decision_bonus
            if (definition is not None and any(words <= read.stems for words in defined_stems)
                    and definition.search(record.text)):
                score += cfg.linear_definition_bonus
            if (introduction is not None and any(a in read.lowered for a in asked_lowered)
                    and introduction.search(record.text)):
                score += cfg.linear_introduction_bonus
            if answer_type is not None and states(answer_type, _best_window_text(c)):
                score += cfg.linear_answer_type_bonus
            c.score = score

    def _score_by_rank(self, candidates: list[_Candidate], plan: QueryPlan, dense_rank: dict[int, int],
                       lexical_rank: dict[int, int]) -> None:
        """Dense-only by the dense score, lexical-only and rank fusion by reciprocal ranks; the council and
        decision boosts multiply."""
        cfg = self.config
        for c in candidates:
            if cfg.mode == "dense":
                c.score = c.dense
            elif cfg.mode == "lexical":
                c.score = 1.0 / (cfg.rrf_k + lexical_rank[c.chunk_id] + 1) if c.chunk_id in lexical_rank else 0.0
            else:
                c.score = sum(weight / (cfg.rrf_k + ranks[c.chunk_id] + 1)
                              for weight, ranks in ((1.0, dense_rank), (cfg.lexical_weight, lexical_rank))
                              if c.chunk_id in ranks)
            boost = 1.0
            if plan.council and self.index.documents[c.record.doc_id].council == plan.council:
                boost += cfg.council_boost
            if plan.wants_decision and c.record.kind == "decision":
                boost += cfg.decision_boost
            c.score *= boost

    def _council_held(self, record: ChunkRecord, wanted: frozenset[str]) -> frozenset[str]:
        """The question's words (stems) a passage holds by its report's council, for ranking and confidence
        alike: a passage of Walsall's report holds "Walsall" though its text may not say it."""
        if not (self.config.council_in_passages and wanted):
            return frozenset()
        return _council_stems(self.index.documents[record.doc_id].council) & wanted

    def _term_weights(self, terms: list[str]) -> dict[str, float]:
        """Inverse document frequency of each term over the chunks (a rare word says more)."""
        total = self.index.chunk_count
        return {stem(t): idf(count, total) for t, count in self.index.term_counts(terms).items()}

    def _confidence(self, candidates: list[_Candidate], question: str, counts: dict[str, int],
                    asked: str) -> tuple[float, dict]:
        """How sure we are that the reports answer: the best passage's closeness to the question, plus
        how much of the question's rarer words one of the top passages holds (a question about something
        the reports never mention keeps a distinctive word that no top passage has); for a "how many" or
        "when" question, what one sentence stating a quantity or date holds (SearchConfig.typed_share); and how
        much of the question no chunk holds at all; and what the question as asked says by its words alone. With
        abstention="logistic" (the default), the abstention model's probability of these signals; with "sum", the
        dense score plus the coverage."""
        if not candidates:
            return 0.0, {}
        form = self.question_form.log_odds(asked if self.config.question_form else "")
        # the passages closest in words and meaning, before bonuses for kinds of passage and the council's order
        by_evidence = sorted(candidates, key=lambda c: -c.evidence)
        best = by_evidence[0]
        terms = list(counts)  # the question's words (query_terms), each with how many chunks hold it
        weights = {t: idf(count, self.index.chunk_count) for t, count in counts.items()}
        weight_sum = sum(weights.values())  # > 0 for a question with a word: every IDF is
        if not weight_sum:
            # no word to search ("what is it", "???"): nothing of it can be shown to be on the record; the
            # abstention model, fitted on questions that all have words, would still trust the closest passage
            return 0.0, {"dense": best.dense, "coverage": 0.0, "unknown_share": 0.0, "question_form": form}
        # a question about something the reports never mention often has words no chunk holds at all
        unknown_share = sum(w for t, w in weights.items() if not counts[t]) / weight_sum
        # Held by a top passage: the same word matching as ranking (a term no chunk's text holds is held by no
        # text, whatever its stem), and the same council context: a passage of Walsall's report holds "Walsall".
        in_text = frozenset(stem(t) for t in terms if counts[t])
        wanted = frozenset(stem(t) for t in terms)

        def share(held: set[str]) -> float:
            return sum(w for t, w in weights.items() if stem(t) in held) / weight_sum

        top = by_evidence[:self.config.coverage_depth]
        held_by, typed = [], []
        # the sentences are the answer windows, known once the question has a vector (not in lexical mode)
        known = any(c.window_scores() is not None for c in top)
        answer_type = answer_type_pattern(question) if self.config.typed_coverage and known else None
        for c in top:
            council = self._council_held(c.record, wanted)
            held_by.append((_chunk_text(c.record.heading, c.record.text).stems & in_text) | council)
            if answer_type is not None:
                heading = _window_stems(c.record.heading)
                typed.extend(share(((_window_stems(sentence) | heading) & in_text) | council)
                              for sentence in _window_texts(c) if states(answer_type, sentence))
        if not self.config.coverage_in_one_passage:
            held_by = [set().union(*held_by)]
        coverage = max(share(held) for held in held_by)
        signals = {"dense": best.dense, "coverage": coverage, "unknown_share": unknown_share, "question_form": form}
        if answer_type is not None:
            # "How many arrests has Operation Charwell made": the passages name the operation and state figures,
            # but no sentence states a figure among the question's words. The coverage is the sentence's.
            signals["typed_coverage"] = max(typed, default=0.0)
            weight = self.config.typed_share
            coverage = (1 - weight) * coverage + weight * signals["typed_coverage"]
        if self.config.abstention == "logistic":
            return self.abstention_model.probability(abstention_features(signals)), signals
        return best.dense + self.config.coverage_weight * coverage, signals

    # -- passages -----------------------------------------------------------------------------
    def _passages(self, candidates: list[_Candidate], plan: QueryPlan, vector: np.ndarray | None,
                  k: int) -> list[Passage]:
        kept: list[tuple[_Candidate, frozenset[str], list[tuple[int, int]]]] = []
        for cand in candidates:
            if len(kept) == k:
                break
            words = _chunk_text(cand.record.heading, cand.record.text).words
            duplicate_of = None
            if self.config.dedupe:
                for other in kept:
                    overlap = len(words & other[1]) / max(1, min(len(words), len(other[1])))
                    if overlap >= 0.9 and other[0].record.doc_id == cand.record.doc_id:
                        duplicate_of = other
                        break
            if duplicate_of is not None:
                duplicate_of[2].append((cand.record.page_start, cand.record.page_end))
                continue
            kept.append((cand, words, []))
        spans = self._answer_spans([c for c, _, _ in kept], plan)
        passages = []
        for rank, ((cand, _, also), (start, end)) in enumerate(zip(kept, spans), start=1):
            record = cand.record
            doc = self.index.documents[record.doc_id]
            passages.append(Passage(
                rank=rank, score=cand.score, text=record.text, answer=record.text[start:end],
                answer_start=start, answer_end=end, page_start=record.page_start, page_end=record.page_end,
                answer_page=page_of_span(record, start, end),
                document=DocumentRef(doc.id, doc.file, doc.title, doc.council, doc.date),
                chunk_id=record.id, kind=record.kind, also_pages=tuple(also)))
        return passages

    def _answer_spans(self, candidates: list[_Candidate], plan: QueryPlan) -> list[tuple[int, int]]:
        """For each passage, the window (one or two sentences) that best answers the question."""
        cfg = self.config
        wanted = frozenset(stem(t) for t in plan.lexical_terms)
        # The cues that move passages move sentences too: the sentence that states the quantity or date asked
        # for, or that says what the subject of "what is X?" is ("Family Connect is the single point ...").
        cues: list[tuple[Callable[[str], bool], float]] = []
        answer_type = answer_type_pattern(plan.question) if cfg.linear_answer_type_bonus else None
        if answer_type is not None:
            cues.append((lambda sentence: states(answer_type, sentence), cfg.linear_answer_type_bonus))
        definition = defines_pattern(plan.defines) if cfg.linear_definition_bonus else None
        if definition is not None:
            cues.append((lambda sentence: definition.search(sentence) is not None, cfg.linear_definition_bonus))
        chosen = []
        for cand in candidates:
            text = cand.record.text
            windows = cand.window_scores()
            if windows is not None:
                cosines, starts, ends = windows
                spans = list(zip(starts.tolist(), ends.tolist()))
                closeness = cosines.tolist() if cfg.sentence_embeddings else None
            else:
                spans = sentence_spans(text) or [(0, len(text))]
                closeness = None
            chosen.append(answer_window(text, spans, closeness, wanted, cues))
        return chosen


# How much the share of the question's words a window holds counts beside its closeness in meaning. 0.3 rather
# than 0.5: chosen on the fixed and two held-out sets (span 0.836 / 0.750 / 0.733 -> 0.851 / 0.781 / 0.767),
# then kept because a third held-out set, written after, marks as well with it (0.786 either way).
WINDOW_WORD_WEIGHT = 0.3


def answer_window(text: str, spans: list[tuple[int, int]], closeness: list[float] | None,
                  wanted: frozenset[str], cues: list[tuple[Callable[[str], bool], float]]) -> tuple[int, int]:
    """The start and end of the window of `text` that best answers: each window (one of `spans`) scored by its
    closeness in meaning to the question (None: not known), the share of the question's stems it holds, and the
    bonus of each cue (a test of its text) it meets."""
    scores = []
    for j, (s, e) in enumerate(spans):
        sentence = text[s:e]
        words = _window_stems(sentence)
        lexical = len(words & wanted) / max(1, len(wanted))
        dense = closeness[j] if closeness is not None else 0.0
        short = 0.15 if len(words) < 4 else 0.0  # a bare heading or number answers little
        cue = sum(bonus for meets, bonus in cues if meets(sentence))
        scores.append(dense + WINDOW_WORD_WEIGHT * lexical - short + cue)
    best = int(np.argmax(scores))
    start, end = spans[best]
    # A lead-in ("... are outlined below:") is answered by what follows it: mark both.
    if text[start:end].rstrip().endswith(":") and best + 1 < len(spans):
        end = spans[best + 1][1]
    return start, end


def ranking_terms(counts: dict[str, int], total: int) -> list[str]:
    """The terms worth a BM25 query, in order. FTS5's BM25 gives a term held by half the chunks or more an
    IDF of 1e-6 (its IDF would be negative), so such a term only adds rows to score, not order: it is
    left out unless no other term is left. ~2x faster on the fixed questions with the same top 50."""
    informative = [t for t, count in counts.items() if count * 2 < total]
    return informative or list(counts)


def calibrated_searcher(root: Path, index: IndexReader, encoder: Encoder, warn: Callable[[str], None],
                        config: SearchConfig = SearchConfig()) -> Searcher:
    """A Searcher over the index at `root` with the archive's own abstention model, if one is saved there for the
    index's model (`python -m eval.calibrate --save`); a calibration that cannot be read or is another model's is
    reported to `warn`. The edges (API, CLI, eval) search this way."""
    calibration = load_calibration(root, warn, index.manifest.get("model"))
    return Searcher(index, encoder, replace(config, calibration=calibration))


def abstention_features(signals: dict) -> dict[str, float]:
    """The features of retriever/abstention.py from a search's confidence signals."""
    asks_quantity = "typed_coverage" in signals
    return {"dense": signals["dense"], "coverage": signals["coverage"],
            "typed_coverage": signals["typed_coverage"] if asks_quantity else signals["coverage"],
            "asks_quantity": 1.0 if asks_quantity else 0.0, "unknown_share": signals["unknown_share"],
            "question_form": signals["question_form"]}


def idf(count: int, total: int) -> float:
    """Inverse document frequency of a term held by count of total chunks (a rare word says more)."""
    return math.log((max(1, total) + 1) / (count + 0.5))


@dataclass(frozen=True)
class _ChunkText:
    """What scoring reads off a chunk's text, made once per chunk."""

    stems: frozenset[str]  # content-word stems of the heading and text
    lowered: str  # the text lower-cased: phrase scans run case-sensitively, on a literal prefix
    words: frozenset[str]  # every word of the text, lower-cased: near-duplicate passages


@lru_cache(maxsize=4096)
def _chunk_text(heading: str, text: str) -> _ChunkText:
    """Remembered: the same chunks come back as candidates question after question (~100 us to read a
    chunk, ~1 us to look it up; 4,096 chunks ~ 40 MB at most)."""
    lowered = text.lower()
    return _ChunkText(frozenset(stems(heading + " " + text)), lowered, frozenset(re.findall(r"\w+", lowered)))


@lru_cache(maxsize=1024)
def _council_stems(council: str) -> frozenset[str]:
    return frozenset(stems(council))


@lru_cache(maxsize=16384)
def _window_stems(text: str) -> frozenset[str]:
    """Stems of one answer window (the top passages' windows recur across questions)."""
    return frozenset(stems(text))


def _weighted_share(weights: dict[str, float], held: set[str], total: float) -> float:
    """IDF-weighted share of the terms that the passage (or its heading) holds (`held`: those stems);
    `total`: the sum of the weights, made once per question."""
    return sum(weights[t] for t in held) / total if total else 0.0


def _window_texts(c: _Candidate) -> list[str]:
    """The texts of the candidate's answer windows (none if it has no windows or no question vector)."""
    windows = c.window_scores()
    if windows is None:
        return []
    _, starts, ends = windows
    return [c.record.text[a:b] for a, b in zip(starts.tolist(), ends.tolist())]


def _best_window_text(c: _Candidate) -> str:
    """The text of the candidate's window closest to the question (the whole passage if it has none)."""
    windows = c.window_scores()
    if windows is None or not len(windows[0]):
        return c.record.text
    cosines, starts, ends = windows
    j = cosines.argmax()
    return c.record.text[starts[j]:ends[j]]


@dataclass(frozen=True)
class _Phrase:
    pattern: re.Pattern
    weight: float
    stems: tuple[str, str]


def question_phrases(question: str, weights: dict[str, float]) -> list[_Phrase]:
    """Adjacent content words of the question as patterns (at most one word between them in a passage),
    each weighted by the IDF of its two words."""
    phrases = []
    for first, second in query_bigrams(question):
        pair = (stem(first), stem(second))
        weight = weights.get(pair[0], 0.0) + weights.get(pair[1], 0.0)
        if weight > 0:
            # Matched against lower-cased text and starting with a literal, so the regex engine jumps
            # between occurrences of the first word (~20x faster than \b and IGNORECASE); the word
            # boundary before it is checked by _has_phrase.
            pattern = re.compile(rf"{re.escape(pair[0])}\w*(?:\W+\w+)?\W+{re.escape(pair[1])}")
            phrases.append(_Phrase(pattern, weight, pair))
    return phrases


def _has_phrase(pattern: re.Pattern, lowered: str) -> bool:
    """pattern matches lowered at the start of a word (what a leading \\b would ask)."""
    position = 0
    while (match := pattern.search(lowered, position)) is not None:
        start = match.start()
        if start == 0 or not (lowered[start - 1].isalnum() or lowered[start - 1] == "_"):
            return True
        position = start + 1
    return False


def _phrases_held(phrases: list[_Phrase], lowered: str) -> float:
    """The summed weight of the phrases in `lowered` (a passage's text, lower-cased)."""
    return sum(p.weight for p in phrases if _has_phrase(p.pattern, lowered))


def page_of_span(record: ChunkRecord, start: int, end: int) -> int:
    """The page that holds most of the chunk's text[start:end] (the first such page on a tie): an answer that
    opens with a heading or a few words at the foot of one page ("Officers would") and goes on over the
    page is cited by the page its sentence is on. Page pieces are joined by a blank line."""
    position, best, held = 0, None, 0
    for page, piece_start, piece_end in record.spans:
        length = piece_end - piece_start
        overlap = min(end, position + length) - max(start, position)
        if overlap > held:
            best, held = page, overlap
        position += length + 2
    if best is not None:
        return best
    # an empty span: the page its offset is on
    position = 0
    for page, piece_start, piece_end in record.spans:
        position += piece_end - piece_start
        if start < position:
            return page
        position += 2
    return record.page_end
