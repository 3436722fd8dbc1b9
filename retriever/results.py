"""What search returns: Passage and Answer, and their JSON form (the API's contract)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DocumentRef:
    id: str
    file: str
    title: str
    council: str
    date: str | None

    def to_dict(self) -> dict:
        return {"id": self.id, "file": self.file, "title": self.title, "council": self.council, "date": self.date}


@dataclass(frozen=True)
class Passage:
    rank: int
    score: float
    text: str
    answer: str
    answer_start: int
    answer_end: int
    page_start: int
    page_end: int
    answer_page: int
    document: DocumentRef
    chunk_id: int
    kind: str = ""
    also_pages: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict:
        return {"rank": self.rank, "score": round(self.score, 6), "text": self.text, "answer": self.answer,
                "answer_start": self.answer_start, "answer_end": self.answer_end,
                "page_start": self.page_start, "page_end": self.page_end, "answer_page": self.answer_page,
                "kind": self.kind or None,
                "also_on_pages": [{"page_start": a, "page_end": b} for a, b in self.also_pages],
                "document": self.document.to_dict()}


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    passages: tuple[Passage, ...]

    def to_dict(self) -> dict:
        return {"question": self.question, "answered": self.answered,
                "passages": [p.to_dict() for p in self.passages]}
