"""Questions whose answers are known teach the adapted model at ingest.

After the inverse cloze pass (retriever/adaptation.py), the model trains one pass more on pairs of a question and
the answer window (the sentence or two the index embeds and marks) that holds a quote answering it: it learns how
people ask for what the reports say, which the reports' own text cannot teach. The questions come as JSON lines in
the evaluation's format ({"question": ..., "evidence": [{"file": ..., "quote": ...}]}); a question without evidence
(the reports do not answer it) teaches nothing and is skipped, and so is a quote of a report the archive does not
hold. Each pair also gets a hard wrong answer: a window that looks like the answer and is not (BM25's first for the
question outside the chunks holding its quotes), so the model learns to tell the answer from its neighbours, not
only from other questions' answers. Over twenty-two held-out sets, each scored by a model taught the other folds'
sets (`python -m eval.teaching`), recall@5 0.882, MRR@10 0.746 and span 0.837; without the hard wrong answers,
over the twenty-one before the last, 0.872, 0.740 and 0.812; the model untaught, over the twenty before those,
0.809, 0.673 and 0.802 (docs/experiments.md).
"""
from __future__ import annotations

import json
import re
from array import array
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

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


_WORD = re.compile(r"\w+")


def hard_wrong_answers(questions: Sequence[TeachingQuestion], chunks: Sequence[ReportChunk], k1: float = 1.2,
                       b: float = 0.75, share: float = 0.6) -> dict[str, str]:
    """For each question, the answer window (as the index embeds it, heading first) that BM25 ranks first for the
    question's words among the windows of the chunks holding none of its quotes (or `share` of one), of any report:
    a decision notice repeats its report's words, so a chunk of another file can hold the answer too. Windows that
    share none of its words are not taken; a question whose words no such window holds gets none.

    Lowercase word tokens, no stemming; IDF ln((N - n + 0.5) / (n + 0.5) + 1). The postings are arrays, a few bytes
    a word of a window, not Python objects, so an archive of a million windows can be mined."""
    vocabulary: dict[str, int] = {}
    words_of, rows, counts, lengths = array("i"), array("i"), array("f"), array("i")
    place_chunk, place_start, place_end = array("i"), array("i"), array("i")  # each row's window
    for at, chunk in enumerate(chunks):
        for start, end in chunk.windows:
            words = _WORD.findall(chunk.context(start, end).lower())
            for word, count in Counter(words).items():
                words_of.append(vocabulary.setdefault(word, len(vocabulary)))
                rows.append(len(lengths))
                counts.append(count)
            lengths.append(len(words))
            place_chunk.append(at)
            place_start.append(start)
            place_end.append(end)
    n = len(lengths)
    if not n or not questions:
        return {}
    order = np.argsort(np.frombuffer(words_of, dtype=np.int32), kind="stable")
    posting_rows = np.frombuffer(rows, dtype=np.int32)[order]
    posting_counts = np.frombuffer(counts, dtype=np.float32)[order].astype(np.float64)
    offsets = np.searchsorted(np.frombuffer(words_of, dtype=np.int32)[order], np.arange(len(vocabulary) + 1))
    holding = np.diff(offsets)
    idf = np.log((n - holding + 0.5) / (holding + 0.5) + 1)
    window_lengths = np.frombuffer(lengths, dtype=np.int32).astype(np.float64)
    norm = k1 * (1 - b + b * window_lengths / max(window_lengths.mean(), 1.0))
    chunk_words: dict[int, list[str]] = {}
    wrong = {}
    for q in questions:
        scores = np.zeros(n)
        for word in {vocabulary[w] for w in _WORD.findall(q.question.lower()) if w in vocabulary}:
            at = slice(offsets[word], offsets[word + 1])
            f = posting_counts[at]
            scores[posting_rows[at]] += idf[word] * f * (k1 + 1) / (f + norm[posting_rows[at]])
        quotes = [normalise(quote) for _, quote in q.quotes]
        for row in _ranked(scores):
            at = place_chunk[row]
            if at not in chunk_words:
                chunk_words[at] = normalise(chunks[at].text)
            if not any(holds_quote(quote, chunk_words[at], share) for quote in quotes):
                wrong[q.question] = chunks[at].context(place_start[row], place_end[row])
                break
    return wrong


def _ranked(scores: np.ndarray, first: int = 64):
    """The rows scoring above 0, best first (ties by row), the first `first` (and their ties) sorted before the
    rest are: the first few nearly always hold the wrong answer, and an archive's windows are many."""
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > first:
        bar = np.partition(scores[candidates], len(candidates) - first)[len(candidates) - first]
        top = candidates[scores[candidates] >= bar]
        yield from top[np.argsort(-scores[top], kind="stable")]
        candidates = candidates[scores[candidates] < bar]
    yield from candidates[np.argsort(-scores[candidates], kind="stable")]


def with_wrong_answers(pairs: Sequence[ClozePair], wrong: dict[str, str]) -> list[ClozePair]:
    """The pairs, each with its question's hard wrong answer where it has one."""
    return [replace(pair, wrong=wrong.get(pair.anchor, "")) for pair in pairs]
