"""Questions whose answers are known teach the adapted model at ingest.

After the inverse cloze pass (retriever/adaptation.py), the model trains one pass more on pairs of a question and
the answer window (the sentence or two the index embeds and marks) that holds a quote answering it: it learns how
people ask for what the reports say, which the reports' own text cannot teach. The questions come as JSON lines in
the evaluation's format ({"question": ..., "evidence": [{"file": ..., "quote": ...}]}); a question without evidence
(the reports do not answer it) teaches nothing and is skipped, and so is a quote of a report the archive does not
hold. Over twenty-one held-out sets, each scored by a model taught the other folds' sets (`python -m
eval.teaching`), recall@5 0.872 and MRR@10 0.740; the model untaught, over the twenty before the last, 0.809 and
0.673 (docs/experiments.md).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from retriever.adaptation import ClozePair, ReportChunk
from retriever.quotes import holds_quote, longest_common_run, normalise


@dataclass(frozen=True)
class TeachingQuestion:
    question: str
    quotes: tuple[tuple[str, str], ...]  # (the report's file name, the words of it that answer)


class TeachingFileError(ValueError):
    """A file of teaching questions that cannot be read as such: says which file and line."""


def read_teaching_questions(paths: Sequence[Path]) -> tuple[TeachingQuestion, ...]:
    """The questions with evidence of the JSON-lines files, in order."""
    questions = []
    for path in paths:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise TeachingFileError(f"{path}: cannot be read as teaching questions ({exc})") from exc
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                question = item["question"]
                quotes = tuple((e["file"], e["quote"]) for e in item.get("evidence") or ())
                if not isinstance(question, str) or not question.strip() or not all(
                        isinstance(f, str) and isinstance(q, str) for f, q in quotes):
                    raise TypeError("question, file and quote must be text")
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise TeachingFileError(f"{path}, line {number}: not a question in the evaluation's format "
                                        f"({exc.__class__.__name__}: {exc})") from exc
            if quotes:
                questions.append(TeachingQuestion(question.strip(), quotes))
    return tuple(questions)


def quoted_files(questions: Sequence[TeachingQuestion]) -> set[str]:
    return {file for q in questions for file, _ in q.quotes}


def teaching_pairs(questions: Sequence[TeachingQuestion], chunks: Sequence[ReportChunk],
                   share: float = 0.6) -> list[ClozePair]:
    """(question, answer window) pairs: for each chunk of a quoted report whose text holds one of the question's
    quotes, or `share` of it (a quote may straddle two chunks), the chunk's answer window sharing the longest run of
    words with the quote (at least 5 words, or the whole window), as the index embeds it; a window once per
    question, in the questions' order and the chunks'."""
    by_file: dict[str, list[tuple[ReportChunk, list[str], frozenset[str]]]] = {}
    for chunk in chunks:
        words = normalise(chunk.text)
        by_file.setdefault(chunk.file, []).append((chunk, words, frozenset(words)))
    pairs = []
    for q in questions:
        taken: set[tuple[int, int, int]] = set()
        for file, quote in q.quotes:
            quote_words = normalise(quote)
            needed = max(1, round(share * len(quote_words)))
            for chunk, words, vocabulary in by_file.get(file, ()):
                # a run of `needed` words needs that many of the quote's words in the chunk: most chunks fail here
                if sum(w in vocabulary for w in quote_words) < needed or not holds_quote(quote_words, words, share):
                    continue
                window = answering_window(quote_words, chunk)
                if window is not None and (chunk.chunk_id, *window) not in taken:
                    taken.add((chunk.chunk_id, *window))
                    pairs.append(ClozePair(q.question, chunk.context(*window), chunk.chunk_id, chunk.report,
                                           chunk.council))
    return pairs


def answering_window(quote_words: list[str], chunk: ReportChunk) -> tuple[int, int] | None:
    """The chunk's window sharing the longest run of words with the quote (the first such), if that run is at least
    5 words or the whole window."""
    best, best_run = None, 0
    for start, end in chunk.windows:
        words = normalise(chunk.text[start:end])
        run = longest_common_run(quote_words, words)
        if run > best_run and (run >= 5 or run == len(words)):
            best, best_run = (start, end), run
    return best
