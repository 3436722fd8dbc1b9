"""`python -m eval.adaptation`: an experiment, not part of search. Does the packaged model, adapted to the
reports' own text, find answers better?

The adaptation sees no question: each answer window of the index is paired with its own chunk with that window
taken out (the inverse cloze task), and the model learns to find the chunk from the window among the other
chunks of a batch (in-batch negatives, the loss sentence-transformers calls MultipleNegativesRankingLoss). Then
the reports are indexed again with the adapted model (into --out, the shipped index untouched) and the fixed
and held-out question sets are scored with each model, hybrid and dense-only, at the default search weights
(chosen for the packaged model). Writes eval/results/adaptation.md (--report) and prints it.
"""
from __future__ import annotations

import argparse
import random
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from eval.harness import DEPTH, run_questions, summarise
from eval.questions import DEFAULT_QUESTIONS, HELD_OUT_QUESTIONS, load_questions

RESULTS = Path(__file__).resolve().parent / "results" / "adaptation.md"


@dataclass(frozen=True)
class ClozePair:
    anchor: str  # one answer window
    context: str  # its chunk (heading first) with the window taken out
    chunk_id: int


def inverse_cloze_pairs(chunks: dict[int, tuple[str, str]], windows: list[tuple[int, int, int]],
                        min_anchor_words: int = 6, min_context_words: int = 30) -> list[ClozePair]:
    """A pair per window (chunk id, start, end) of `chunks` (id -> text, heading): windows of a few words
    (headings, list markers) and chunks left with little text around the window teach nothing and are skipped."""
    pairs = []
    for chunk_id, start, end in windows:
        text, heading = chunks[chunk_id]
        anchor = text[start:end].strip()
        rest = (text[:start].rstrip() + " " + text[end:].lstrip()).strip()
        if len(anchor.split()) >= min_anchor_words and len(rest.split()) >= min_context_words:
            pairs.append(ClozePair(anchor, f"{heading}\n{rest}" if heading else rest, chunk_id))
    return pairs


def in_batch_distinct(batch: list[ClozePair]) -> list[ClozePair]:
    """Two windows of one chunk in a batch would each count the other's context as a wrong answer: keep the first."""
    seen: set[int] = set()
    return [p for p in batch if not (p.chunk_id in seen or seen.add(p.chunk_id))]


def adapt(base_model: str, pairs: list[ClozePair], out_dir: Path, batch_size: int = 32, learning_rate: float = 2e-5,
          scale: float = 20.0, seed: int = 0, threads: int = 2) -> Path:
    """One pass over `pairs` (in the order given) from the model at `base_model`; the adapted model saved in out_dir."""
    import torch
    import torch.nn.functional as F
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    model = SentenceTransformer(base_model, device="cpu")
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    started = time.perf_counter()
    for step, first in enumerate(range(0, len(pairs), batch_size)):
        batch = in_batch_distinct(pairs[first:first + batch_size])
        anchors = F.normalize(model(model.tokenize([p.anchor for p in batch]))["sentence_embedding"], dim=-1)
        contexts = F.normalize(model(model.tokenize([p.context for p in batch]))["sentence_embedding"], dim=-1)
        loss = F.cross_entropy(anchors @ contexts.T * scale, torch.arange(len(batch)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0:
            print(f"step {step}: loss {loss.item():.3f}, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    model.eval()
    model.save(str(out_dir))
    return out_dir


def index_pairs(index_root: Path) -> list[ClozePair]:
    """The pairs of the current build of an index: its chunks and answer windows, as stored."""
    from retriever.store import DATABASE_FILE, connect, current_build

    build = current_build(index_root)
    if build is None:
        raise SystemExit(f"no index in {index_root}: run `onrecord ingest` first")
    conn = connect(build / DATABASE_FILE, read_only=True)
    chunks = {row[0]: (row[1], row[2] or "") for row in conn.execute("SELECT id, text, heading FROM chunks")}
    windows = [tuple(row) for row in conn.execute('SELECT chunk_id, start, "end" FROM windows ORDER BY id')]
    conn.close()
    return inverse_cloze_pairs(chunks, windows)


def score(index, encoder) -> dict[str, dict]:
    """Summaries of the fixed set and of the held-out sets together, hybrid and dense-only, default weights."""
    from retriever.search import Searcher

    held_out = [q for path in HELD_OUT_QUESTIONS for q in load_questions(path)]
    rows = {}
    for mode in ("hybrid", "dense"):
        searcher = Searcher(index, encoder).with_config(mode=mode)
        for label, questions in (("fixed", load_questions(DEFAULT_QUESTIONS)), ("held-out (six sets)", held_out)):
            results = run_questions(questions, lambda q: searcher.search(q, k=DEPTH).to_dict(), index.page_text)
            rows[f"{mode}, {label}"] = summarise(results)
    return rows


COLUMNS = [("recall@1", "R@1"), ("recall@5", "R@5"), ("recall@10", "R@10"), ("mrr@10", "MRR@10"),
           ("span_accuracy", "span")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.adaptation", description=__doc__)
    parser.add_argument("--pairs", type=int, default=1600, help="window/chunk pairs to train on (shuffled first)")
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="adapted model and its index (default: var/adaptation)")
    parser.add_argument("--report", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from ingest.chunking import ChunkingParams
    from retriever.build import build_index
    from retriever.encoder import SentenceTransformerEncoder, make_encoder, packaged_model_path
    from retriever.settings import Settings
    from retriever.store import open_index

    settings = Settings()
    out = args.out or settings.index_dir.parent / "adaptation"
    pairs = index_pairs(settings.index_dir)
    random.Random(args.seed).shuffle(pairs)
    pairs = pairs[:args.pairs]
    started = time.perf_counter()
    model_dir = adapt(packaged_model_path(), pairs, out / "model", learning_rate=args.learning_rate,
                      seed=args.seed)
    train_seconds = time.perf_counter() - started
    adapted = SentenceTransformerEncoder(model_path=str(model_dir))
    started = time.perf_counter()
    build_index([settings.corpus_dir], out / "index", adapted, ChunkingParams(), rebuild=True)
    index_seconds = time.perf_counter() - started

    packaged = make_encoder(settings.encoder, settings.model_cache_dir, settings.encoder_threads)
    rows = {f"packaged, {k}": v for k, v in score(open_index(settings.index_dir, packaged.name,
                                                             packaged.dimension), packaged).items()}
    rows.update({f"adapted, {k}": v for k, v in score(open_index(out / "index", adapted.name,
                                                                 adapted.dimension), adapted).items()})
    table = ["| model, search, questions | " + " | ".join(label for _, label in COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 1) + "|"]
    table += [f"| {name} | " + " | ".join(f"{row[key]:.3f}" for key, _ in COLUMNS) + " |"
              for name, row in sorted(rows.items(), key=lambda item: (item[0].split(", ", 1)[1], item[0]))]
    command = "python -m eval.adaptation " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    report = "\n".join([
        "# Adapting the model to the reports (an experiment)", "",
        f"Command: `{command}`, {datetime.now(timezone.utc).isoformat(timespec='seconds')}. {len(pairs)} window/chunk "
        f"pairs, one pass, batch 32, learning rate {args.learning_rate}: {train_seconds:.0f} s of training, "
        f"{index_seconds:.0f} s to index the reports with the adapted model (torch). Search weights and "
        "thresholds are the defaults, chosen for the packaged model.", "", *table, ""])
    args.report.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
