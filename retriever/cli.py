"""The `onrecord` command: `onrecord ingest [PATHS]`, `onrecord ask "question"`."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ingest.metadata import MetadataError
from retriever.build import BuildInProgress, BuildProgress
from retriever.index_model import Models, PackagedModels, encoder_for_index, ingest
from retriever.search import UnknownFilter, calibrated_searcher
from retriever.settings import Settings
from retriever.store import IndexUnavailable, open_index
from retriever.teaching import TeachingFileError, read_teaching_questions


class PlainProgress:
    """Quiet, plain lines for logs and pipes."""

    def __init__(self, stream):
        self.stream = stream

    def note(self, message):
        print(message, file=self.stream, flush=True)

    def file_read(self, file, pages, chunks):
        self.note(f"read {file}: {pages} pages, {chunks} chunks")

    def file_skipped(self, file, reason):
        self.note(f"skipped {file}: {reason}")

    def embedding_started(self, total):
        if total:
            self.note(f"embedding {total} texts (chunks and their answer windows)")

    def embedded(self, count):
        pass

    def embedding_finished(self):
        pass


class TerminalProgress(PlainProgress):
    """A progress bar (rich) for people watching a terminal."""

    def __init__(self, stream):
        super().__init__(stream)
        from rich.console import Console

        self.console = Console(file=stream)
        self._progress = None
        self._task = None

    def note(self, message):
        self.console.print(message, highlight=False, markup=False)

    def file_skipped(self, file, reason):
        self.console.print(f"[yellow]skipped[/] {file}: {reason}", highlight=False)

    def embedding_started(self, total):
        if not total:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(TextColumn("embedding chunks and answer windows"), BarColumn(), MofNCompleteColumn(),
                                  TimeRemainingColumn(), console=self.console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task("embed", total=total)

    def embedded(self, count):
        if self._progress is not None:
            self._progress.advance(self._task, count)

    def embedding_finished(self):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _progress_for(stream) -> BuildProgress:
    return TerminalProgress(stream) if stream.isatty() else PlainProgress(stream)


def _models(settings: Settings) -> Models:
    return PackagedModels.from_settings(settings)


def cmd_ingest(args, settings: Settings) -> int:
    paths = [Path(p) for p in args.paths] or [settings.corpus_dir]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    if settings.adapt_model:  # a teaching file that cannot be read is said now, not minutes into a build
        read_teaching_questions(settings.teaching_questions)
    summary = ingest(paths, settings.index_dir, _models(settings), adapt=settings.adapt_model, rebuild=args.rebuild,
                     progress=_progress_for(sys.stderr), parse_workers=settings.parse_workers)
    for warning in summary.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for first, other in summary.duplicates:
        print(f"duplicate: {other} has the same content as {first}; indexed once", file=sys.stderr)
    print(summary.line())
    # which reports changed, by name: an officer checking that a withdrawn report has left the index
    for label, files in (("added", summary.added), ("replaced", summary.updated), ("removed", summary.removed)):
        if files:
            print(f"{label}: {', '.join(files)}")
    return 0


def _format_passage(p) -> str:
    pages = f"p. {p.page_start}" if p.page_start == p.page_end else f"pp. {p.page_start}-{p.page_end}"
    date = f", {p.document.date}" if p.document.date else ""
    marked = p.text[:p.answer_start] + ">>> " + p.answer + " <<<" + p.text[p.answer_end:]
    head = f"[{p.rank}] {p.document.title} — {p.document.council or 'unknown council'}{date}, {pages}"
    return f"{head}\n    {p.document.file}#page={p.answer_page}\n\n{marked}\n"


def cmd_ask(args, settings: Settings) -> int:
    encoder = encoder_for_index(settings.index_dir, _models(settings))
    index = open_index(settings.index_dir, encoder.name, encoder.dimension)
    searcher = calibrated_searcher(settings.index_dir, index, encoder,
                                   lambda message: print(f"warning: {message}", file=sys.stderr))
    encoder.encode(["warm up"])  # time the search, not the one-off model load
    started = time.perf_counter()
    answer = searcher.search(args.question, k=args.k, council=args.council, document=args.document,
                             correct=not args.as_typed)
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    if answer.suggestion is not None and answer.suggestion_searched:
        print(f"Showing passages for: {answer.suggestion.question} (--as-typed searches the question as typed)\n")
    elif answer.suggestion is not None:
        print(f"Did you mean: {answer.suggestion.question}\n")
    if not answer.words:
        print("The question names nothing to look for: words such as \"what\", \"is\" and \"it\" are not searched.")
        return 0
    if answer.missing_words:
        print("Not in any report: " + ", ".join(f'"{w}"' for w in answer.missing_words) + "\n")
    if not answer.answered:
        print("The reports do not appear to answer this question. Nearest passages (low confidence):\n")
    for passage in answer.passages:
        print(_format_passage(passage))
    print(f"({len(answer.passages)} passages in {elapsed * 1000:.0f} ms)", file=sys.stderr)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="onrecord", description="Answers questions with the council reports' own words.")
    sub = p.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest", help="build or update the index from report files")
    ingest.add_argument("paths", nargs="*", help="files or folders (default: the corpus folder)")
    ingest.add_argument("--rebuild", action="store_true", help="rebuild from scratch instead of updating")
    ingest.set_defaults(func=cmd_ingest)
    ask = sub.add_parser("ask", help="ask a question")
    ask.add_argument("question")
    ask.add_argument("--k", type=int, default=5, help="how many passages (1-50)")
    ask.add_argument("--council")
    ask.add_argument("--document", help="document id or file name")
    ask.add_argument("--as-typed", action="store_true",
                     help="search words that look like slips as typed, not as the reports spell them")
    ask.add_argument("--json", action="store_true", help="print the JSON search contract")
    ask.set_defaults(func=cmd_ask)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "k", 5) is not None and not 1 <= getattr(args, "k", 5) <= 50:
        print("error: --k must be between 1 and 50", file=sys.stderr)
        return 2
    if getattr(args, "question", "x").strip() == "":
        print("error: the question is empty", file=sys.stderr)
        return 2
    settings = Settings()
    try:
        return args.func(args, settings)
    except (IndexUnavailable, UnknownFilter, MetadataError, BuildInProgress, TeachingFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the index in use is unchanged", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}; the index in use is unchanged",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
