"""Search: question -> ranked, cited passages with the answering sentence marked.

Kept apart from the model: the encoder is passed in, the index is read-only, and the
ranking is plain functions over the candidates of each side (lexical BM25, dense).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from ingest.chunking import sentence_spans
from retriever.encoder import Encoder
from retriever.lexical import fts_match, query_terms, stem, stems
from retriever.query import QueryPlan, plan_query
from retriever.results import Answer, DocumentRef, Passage
from retriever.store import ChunkRecord, IndexReader
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
    council_boost: float = 0.5
    decision_boost: float = 0.3
    dedupe: bool = True
    sentence_embeddings: bool = True
    # Abstention: confidence = cosine of the best passage + coverage_weight * the share of the
    # question's content words it contains; below answer_threshold the reports are taken not to answer.
    coverage_weight: float = 0.2
    answer_threshold: float = 0.5


class UnknownFilter(ValueError):
    def __init__(self, field: str, value: str, valid: list[str]):
        super().__init__(f"unknown {field} {value!r}; valid values: {', '.join(valid)}")
        self.field, self.value, self.valid = field, value, valid


@dataclass
class _Candidate:
    chunk_id: int
    score: float
    record: ChunkRecord | None = None
    cosine: float = 0.0


@dataclass(frozen=True)
class SearchResult:
    """An Answer plus what search inferred from the question (shown so a person can undo it)."""

    answer: Answer
    inferred_council: str | None
    expansions: tuple[tuple[str, str], ...]
    confidence: float = 0.0

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
                "expansions": [{"term": t, "expansion": e} for t, e in self.expansions]}


class Searcher:
    def __init__(self, index: IndexReader, encoder: Encoder, config: SearchConfig = SearchConfig()):
        self.index = index
        self.encoder = encoder
        self.config = config

    def with_config(self, **changes) -> "Searcher":
        return Searcher(self.index, self.encoder, replace(self.config, **changes))

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
               kind: str | None = None, infer: bool = True) -> "SearchResult":
        if kind is not None and kind not in KINDS:
            raise UnknownFilter("kind", kind, list(KINDS))
        doc_ids = self.resolve_filters(council, document)
        cfg = self.config
        plan = plan_query(question, list(self.index.documents.values()),
                          self.index.terms if cfg.expand_acronyms else [], infer=infer and not council)
        if not cfg.expand_acronyms:
            plan = replace(plan, dense_text=question, lexical_terms=tuple(query_terms(question)), expansions=())
        vector = self.encoder.encode([plan.dense_text])[0] if cfg.mode != "lexical" else None
        candidates = self._candidates(plan, vector, doc_ids, kind)
        passages = self._passages(candidates, plan, vector, k)
        confidence = self._confidence(candidates[:1], question)
        answered = bool(candidates) and (cfg.mode == "lexical" or confidence >= cfg.answer_threshold)
        return SearchResult(Answer(question=question, answered=answered, passages=tuple(passages)),
                            plan.council, plan.expansions, confidence)

    # -- candidates and ranking -------------------------------------------------------------
    def _candidates(self, plan: QueryPlan, vector: np.ndarray | None, doc_ids: list[str] | None,
                    kind: str | None) -> list[_Candidate]:
        cfg = self.config
        n = cfg.candidates if kind is None else cfg.candidates * 4
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if vector is not None:
            allowed = self.index.chunk_ids_for_documents(doc_ids) if doc_ids is not None else None
            dense = search_vectors(self.index.vectors, vector, n, allowed)
        if cfg.mode != "dense":
            lexical = self.index.lexical_search(fts_match(list(plan.lexical_terms)), n, doc_ids)
        fused: dict[int, float] = {}
        if cfg.mode == "dense":
            fused = {i: s for i, s in dense}
        elif cfg.mode == "lexical":
            fused = {i: 1.0 / (cfg.rrf_k + r + 1) for r, (i, _) in enumerate(lexical)}
        else:
            for weight, ranking in ((1.0, dense), (cfg.lexical_weight, lexical)):
                for rank, (chunk_id, _) in enumerate(ranking):
                    fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (cfg.rrf_k + rank + 1)
        records = self.index.chunks(list(fused))
        candidates = [_Candidate(i, s, records[i]) for i, s in fused.items() if i in records]
        if kind is not None:
            candidates = [c for c in candidates if c.record.kind == kind]
        if vector is not None:
            for c in candidates:
                c.cosine = float(np.dot(self.index.vectors.reconstruct(c.chunk_id), vector))
        for c in candidates:
            boost = 1.0
            if plan.council and self.index.documents[c.record.doc_id].council == plan.council:
                boost += cfg.council_boost
            if plan.wants_decision and c.record.kind == "decision":
                boost += cfg.decision_boost
            c.score *= boost
        candidates.sort(key=lambda c: -c.score)
        return candidates

    def _confidence(self, top: list[_Candidate], question: str) -> float:
        """How sure we are that the best passage answers (lexical-only search has no cosine to offer)."""
        if not top:
            return 0.0
        best = top[0]
        coverage = word_coverage(question, best.record.heading + " " + best.record.text)
        return best.cosine + self.config.coverage_weight * coverage

    # -- passages -----------------------------------------------------------------------------
    def _passages(self, candidates: list[_Candidate], plan: QueryPlan, vector: np.ndarray | None,
                  k: int) -> list[Passage]:
        kept: list[tuple[_Candidate, set[str], list[tuple[int, int]]]] = []
        for cand in candidates:
            if len(kept) == k:
                break
            words = set(re.findall(r"\w+", cand.record.text.lower()))
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
        spans = self._answer_spans([c.record for c, _, _ in kept], plan, vector)
        passages = []
        for rank, ((cand, _, also), (start, end)) in enumerate(zip(kept, spans), start=1):
            record = cand.record
            doc = self.index.documents[record.doc_id]
            passages.append(Passage(
                rank=rank, score=cand.score, text=record.text, answer=record.text[start:end],
                answer_start=start, answer_end=end, page_start=record.page_start, page_end=record.page_end,
                answer_page=page_of_offset(record, start),
                document=DocumentRef(doc.id, doc.file, doc.title, doc.council, doc.date),
                chunk_id=record.id, kind=record.kind, also_pages=tuple(also)))
        return passages

    def _answer_spans(self, records: list[ChunkRecord], plan: QueryPlan,
                      vector: np.ndarray | None) -> list[tuple[int, int]]:
        """For each passage, the sentence (or two adjacent ones) that best answers the question."""
        per_record = [sentence_spans(r.text) or [(0, len(r.text))] for r in records]
        wanted = {stem(t) for t in plan.lexical_terms}
        similarity: list[np.ndarray | None] = [None] * len(records)
        if vector is not None and self.config.sentence_embeddings and records:
            texts = [r.text[s:e] for r, spans in zip(records, per_record) for s, e in spans]
            matrix = self.encoder.encode(texts) @ vector
            offset = 0
            for i, spans in enumerate(per_record):
                similarity[i] = matrix[offset:offset + len(spans)]
                offset += len(spans)
        chosen = []
        for i, (record, spans) in enumerate(zip(records, per_record)):
            scores = []
            for j, (s, e) in enumerate(spans):
                words = stems(record.text[s:e])
                lexical = len(words & wanted) / max(1, len(wanted))
                dense = float(similarity[i][j]) if similarity[i] is not None else 0.0
                short = 0.15 if len(words) < 4 else 0.0  # a bare heading or number answers little
                scores.append(dense + 0.5 * lexical - short)
            best = int(np.argmax(scores))
            start, end = spans[best]
            chosen.append((start, end))
        return chosen


def word_coverage(question: str, text: str) -> float:
    """Share of the question's content words (stemmed) that the text contains."""
    wanted = stems(question)
    return len(wanted & stems(text)) / len(wanted) if wanted else 0.0


def page_of_offset(record: ChunkRecord, offset: int) -> int:
    """The page a character of the chunk's text is on (page pieces are joined by a blank line)."""
    position = 0
    for page, start, end in record.spans:
        length = end - start
        if offset < position + length:
            return page
        position += length + 2
    return record.page_end
