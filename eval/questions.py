"""The fixed question set: one JSON object per line (id, question, kind, council, evidence, note)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from retriever.settings import held_out_question_sets

DEFAULT_QUESTIONS = Path(__file__).resolve().parent / "questions.jsonl"
# Held-out sets (`make eval-holdout`), written later by readers who had not seen the search, each after the one
# before had been used: how far the fixed set's figures carry to new questions. Each was measured first with the code
# as it stood, and many then decided a candidate by a rule written before the set existed; what each set decided is
# in docs/experiments.md, session by session, and the README ("Held-out questions"). Since the twentieth the model
# ingest makes is taught every held-out set's answers (retriever/teaching.py): scored with the served index they are
# in sample, and `python -m eval.teaching` scores each by a model not taught it.
# holdout_questions.jsonl, holdout2_questions.jsonl, ..., in the order they were written: the same list ingest
# teaches, so every set taught is one eval.teaching scores untaught (tests/test_questions.py names each set's prefix)
HELD_OUT_QUESTIONS = tuple(held_out_question_sets())
# Sets already written and used to decide (measured once, never taught or counted), waiting in eval/pending/ for the
# next refit to register them (docs/question-sets.md): tests/test_questions.py checks them as it checks the held-out.
PENDING_QUESTIONS = tuple(sorted((Path(__file__).resolve().parent / "pending").glob("holdout*_questions.jsonl")))
# Every set written after the fixed one, in the order written: the held-out sets, then the pending ones.
WRITTEN_QUESTIONS = (*HELD_OUT_QUESTIONS, *PENDING_QUESTIONS)


@dataclass(frozen=True)
class Evidence:
    file: str
    quote: str
    pages: tuple[int, ...]


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    kind: str | None = None
    council: str | None = None
    evidence: tuple[Evidence, ...] = ()
    note: str = ""

    @property
    def scored(self) -> bool:
        """Whether the file says anything to score against (an id+question file does not)."""
        return self.kind is not None

    @property
    def answerable(self) -> bool:
        return bool(self.evidence)


def load_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            questions.append(Question(
                id=str(raw["id"]), question=raw["question"], kind=raw.get("kind"), council=raw.get("council"),
                evidence=tuple(Evidence(e["file"], e["quote"], tuple(e.get("pages", ())))
                               for e in raw.get("evidence") or ()),
                note=raw.get("note", "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a question line ({exc})") from exc
    return questions
