"""Search: question -> ranked, cited passages with the answering sentence marked.

Kept apart from the model: the encoder is passed in, the index is read-only, and the
ranking is plain functions over the candidates of each side (lexical BM25, dense).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ingest.chunking import sentence_spans
from retriever.encoder import Encoder
from retriever.lexical import fts_match, query_terms, stems
from retriever.results import Answer, DocumentRef, Passage
from retriever.store import ChunkRecord, IndexReader
from retriever.vectors import search_vectors

MODES = ("hybrid", "dense", "lexical")


@dataclass(frozen=True)
class SearchConfig:
    mode: str = "hybrid"
    candidates: int = 50
    rrf_k: int = 60
    # Below this cosine between question and best passage, the reports are taken not to answer.
    answer_threshold: float = 0.35


class UnknownFilter(ValueError):
    def __init__(self, field: str, value: str, valid: list[str]):
        super().__init__(f"unknown {field} {value!r}; valid values: {', '.join(valid)}")
        self.field, self.value, self.valid = field, value, valid


@dataclass(frozen=True)
class _Candidate:
    chunk_id: int
    score: float
    dense: float | None


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

    def search(self, question: str, k: int = 5, council: str | None = None,
               document: str | None = None) -> Answer:
        doc_ids = self.resolve_filters(council, document)
        question_vector = self.encoder.encode([question])[0] if self.config.mode != "lexical" else None
        candidates = self._candidates(question, question_vector, doc_ids)[:k]
        records = self.index.chunks([c.chunk_id for c in candidates])
        passages = []
        for rank, cand in enumerate(candidates, start=1):
            record = records[cand.chunk_id]
            passages.append(self._passage(rank, cand, record, question))
        answered = self._answered(candidates)
        return Answer(question=question, answered=answered, passages=tuple(passages))

    def _candidates(self, question: str, vector: np.ndarray | None, doc_ids: list[str] | None) -> list[_Candidate]:
        n = self.config.candidates
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if vector is not None:
            allowed = self.index.chunk_ids_for_documents(doc_ids) if doc_ids is not None else None
            dense = search_vectors(self.index.vectors, vector, n, allowed)
        if self.config.mode != "dense":
            lexical = self.index.lexical_search(fts_match(query_terms(question)), n, doc_ids)
        dense_score = dict(dense)
        if self.config.mode == "dense":
            return [_Candidate(i, s, s) for i, s in dense]
        if self.config.mode == "lexical":
            return [_Candidate(i, s, None) for i, s in lexical]
        fused: dict[int, float] = {}
        for ranking in (dense, lexical):
            for rank, (chunk_id, _) in enumerate(ranking):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (self.config.rrf_k + rank + 1)
        order = sorted(fused, key=lambda i: -fused[i])
        return [_Candidate(i, fused[i], dense_score.get(i)) for i in order]

    def _answered(self, candidates: list[_Candidate]) -> bool:
        if not candidates:
            return False
        best_dense = max((c.dense for c in candidates if c.dense is not None), default=None)
        if best_dense is None:  # lexical only: a match at all is the only evidence there is
            return True
        return best_dense >= self.config.answer_threshold

    def _passage(self, rank: int, cand: _Candidate, record: ChunkRecord, question: str) -> Passage:
        doc = self.index.documents[record.doc_id]
        start, end = best_sentence(record.text, question)
        return Passage(rank=rank, score=cand.score, text=record.text, answer=record.text[start:end],
                       answer_start=start, answer_end=end, page_start=record.page_start,
                       page_end=record.page_end, answer_page=page_of_offset(record, start),
                       document=DocumentRef(doc.id, doc.file, doc.title, doc.council, doc.date),
                       chunk_id=record.id)


def best_sentence(text: str, question: str) -> tuple[int, int]:
    """Offsets of the sentence of `text` sharing most content words with the question."""
    spans = sentence_spans(text)
    if not spans:
        return 0, len(text)
    wanted = stems(question)
    best, best_score = spans[0], -1.0
    for span in spans:
        words = stems(text[span[0]:span[1]])
        score = len(words & wanted) / (1 + 0.02 * len(words))
        if score > best_score:
            best, best_score = span, score
    return best


def page_of_offset(record: ChunkRecord, offset: int) -> int:
    """The page a character of the chunk's text is on (page pieces are joined by a blank line)."""
    position = 0
    for page, start, end in record.spans:
        length = end - start
        if offset < position + length:
            return page
        position += length + 2
    return record.page_end
