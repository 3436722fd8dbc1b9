"""The packaged model adapted to the reports' own text at ingest, without any question.

Each answer window is paired with its own chunk with that window taken out (the inverse cloze task), and the
model learns to find the chunk from the window among the other chunks of a batch (in-batch negatives, the loss
sentence-transformers calls MultipleNegativesRankingLoss), each batch drawn from one report (reports too small for a
batch pooled), and a chunk that holds the window word for word (an overlapping neighbour) not counted as a wrong
answer. One pass over a fixed
number of pairs, so the cost does not grow with the corpus. Against the packaged model, over eight held-out
question sets at the same search weights (docs/experiments.md): recall@5 0.754 -> 0.830, MRR@10 0.629 -> 0.681.

The adapted model is named by what made it (base model, recipe, the pairs' text), so the same reports and
recipe give the same name and an index rebuilt over them reuses it rather than training again.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

ADAPTED_FAMILY = "-adapted"  # what an adapted model's name keeps once its digest is dropped
ADAPTED_TAG = ADAPTED_FAMILY + "-"  # then the digest
# Part of every adapted model's name: a change to how pairs are made or the model trained changes it, so an
# index is never served with a model trained another way under the same name. 2: batches of one report each;
# 3: reports with fewer pairs than a batch pooled into shared batches (the shipped reports' batches unchanged).
RECIPE_VERSION = 3
BATCHINGS = ("report", "report-unpooled", "mixed")
# In a taught model's folder: the name of the adapted model it was taught from, kept while the taught one is (a
# rebuild over the same reports then teaches again from it instead of adapting again).
TAUGHT_FROM_FILE = "taught_from.txt"


@dataclass(frozen=True)
class ClozePair:
    anchor: str  # one answer window
    context: str  # its chunk (heading first) with the window taken out
    chunk_id: int
    report: str = ""  # the document the chunk is from
    council: str = ""  # that document's council
    wrong: str = ""  # teaching only: a window that looks like the answer and is not (retriever/teaching.py)


@dataclass(frozen=True)
class AdaptationRecipe:
    """How the model is adapted: the first settings tried but for the learning rate and the batches
    (docs/experiments.md)."""

    pairs: int = 1600  # window/chunk pairs trained on, drawn at random (seeded) from all of them
    batch_size: int = 32
    # 5e-5, not 2e-5: one pass of 50 steps at 2e-5 left the model under-trained (kept by a rule written
    # before its test: an eighth held-out set, recall@5 0.902 -> 0.902, MRR@10 0.738 -> 0.755)
    learning_rate: float = 5e-5
    scale: float = 20.0  # cosines x scale are the logits
    seed: int = 0
    # "report": each batch holds pairs of one report, so the wrong answers are other chunks of the same report
    # (harder to tell apart than another report's), reports too small for a batch pooled; "report-unpooled": as
    # RECIPE_VERSION 2, a small report's pairs a batch of their own; "mixed": batches as drawn (as before
    # RECIPE_VERSION 2, which also stopped counting a chunk holding the window as a wrong answer). Batches of one
    # report were kept by a rule written before its test (docs/experiments.md): on a twelfth held-out set span
    # accuracy 0.771 -> 0.800 at recall@5 0.833 -> 0.833 and MRR@10 0.729 -> 0.738.
    batches: str = "report"

    def __post_init__(self):
        if self.batches not in BATCHINGS:
            raise ValueError(f"batches must be one of {', '.join(BATCHINGS)}, not {self.batches!r}")


@dataclass(frozen=True)
class ReportChunk:
    """A chunk as teaching reads it (retriever/teaching.py): its text, heading and answer windows (start, end in
    the text), and its report's file, document and council."""

    chunk_id: int
    text: str
    heading: str = ""
    windows: tuple[tuple[int, int], ...] = ()
    file: str = ""
    report: str = ""
    council: str = ""

    def context(self, start: int = 0, end: int | None = None) -> str:
        """The text (or the window start:end of it) as the index embeds it, heading first."""
        return _context(self.text[start:end], self.heading)


def _context(text: str, heading: str) -> str:
    return f"{heading}\n{text}" if heading else text


class ClozePairs(Sequence[ClozePair]):
    """inverse_cloze_pairs's pairs, each made when read: a pair holds its chunk's text again (the shipped reports'
    5,606 pairs made at once took 7.5 MB, 1.3 KB a pair, measured with tracemalloc), and training reads a sample of
    1,600, so an archive of a million windows does not hold another ~1.3 GB of text while it ingests."""

    def __init__(self, chunks: Mapping[int, tuple[str, str]], windows: Sequence[tuple[int, int, int]],
                 reports: Mapping[int, str], councils: Mapping[int, str], files: Mapping[int, str] | None = None,
                 all_windows: Mapping[int, tuple[tuple[int, int], ...]] | None = None):
        self._chunks, self._windows, self._reports, self._councils = chunks, windows, reports, councils
        self._files, self._all_windows = files or {}, all_windows or {}

    def __len__(self) -> int:
        return len(self._windows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        chunk_id, start, end = self._windows[i]
        text, heading = self._chunks[chunk_id]
        anchor, rest = _cloze(text, start, end)
        return ClozePair(anchor, _context(rest, heading), chunk_id,
                         self._reports.get(chunk_id, ""), self._councils.get(chunk_id, ""))

    def report_chunks(self) -> list[ReportChunk]:
        """Every chunk the pairs were made from, whole: what questions whose answers are known are taught against
        (retriever/teaching.py)."""
        return [ReportChunk(chunk_id, text, heading, self._all_windows.get(chunk_id, ()),
                            self._files.get(chunk_id, ""), self._reports.get(chunk_id, ""),
                            self._councils.get(chunk_id, ""))
                for chunk_id, (text, heading) in self._chunks.items()]


def _cloze(text: str, start: int, end: int) -> tuple[str, str]:
    """The window and its chunk's text without it."""
    return text[start:end].strip(), (text[:start].rstrip() + " " + text[end:].lstrip()).strip()


def inverse_cloze_pairs(chunks: Mapping[int, tuple[str, str]], windows: Sequence[tuple[int, int, int]],
                        min_anchor_words: int = 6, min_context_words: int = 30,
                        reports: Mapping[int, str] | None = None,
                        councils: Mapping[int, str] | None = None,
                        files: Mapping[int, str] | None = None) -> ClozePairs:
    """A pair per window (chunk id, start, end) of `chunks` (id -> text, heading), each marked with its chunk's
    report, council and file (`reports`, `councils`, `files`: chunk id -> document, council, file name): windows of
    a few words (headings, list markers) and chunks left with little text around the window teach nothing and are
    skipped."""
    kept = []
    every: dict[int, list[tuple[int, int]]] = {}
    for chunk_id, start, end in windows:
        every.setdefault(chunk_id, []).append((start, end))
        anchor, rest = _cloze(chunks[chunk_id][0], start, end)
        if len(anchor.split()) >= min_anchor_words and len(rest.split()) >= min_context_words:
            kept.append((chunk_id, start, end))
    return ClozePairs(chunks, kept, reports or {}, councils or {}, files,
                      {chunk_id: tuple(spans) for chunk_id, spans in every.items()})


def sample_pairs(pairs: Sequence[ClozePair], recipe: AdaptationRecipe) -> list[ClozePair]:
    """The recipe's number of pairs, drawn at random with its seed (all of them when there are fewer). The order is
    shuffled, not the pairs, so that only the sample is made (the same draw: a shuffle's swaps depend on the
    length alone)."""
    order = list(range(len(pairs)))
    random.Random(recipe.seed).shuffle(order)
    return [pairs[i] for i in order[:recipe.pairs]]


def training_batches(pairs: list[ClozePair], recipe: AdaptationRecipe) -> list[list[ClozePair]]:
    """The pairs (as sampled) in batches: with "report" batching, each report's pairs in the order drawn, cut into
    batches, and the batches shuffled with the recipe's seed; with "mixed", in the order drawn.

    A report with fewer pairs than a batch would make a batch of a few pairs, each with a few wrong answers to
    learn from: an archive of hundreds of short reports would train on batches of two or three. Such reports are
    pooled instead ("report-unpooled": not), a council's together, and the pool cut into batches where the first
    of them stood. With each run of 5 chunks counted as a report of its own (~270 reports of ~6 pairs), pooling
    kept the adaptation's gain: over twelve held-out sets recall@5 0.820, MRR@10 0.686 against 0.769, 0.632
    unpooled and 0.829, 0.692 for the shipped reports (`python -m eval.adaptation --split-reports 5`)."""
    size = recipe.batch_size
    if recipe.batches == "mixed":
        return [pairs[i:i + size] for i in range(0, len(pairs), size)]
    by_report: dict[str, list[ClozePair]] = {}
    for pair in pairs:
        by_report.setdefault(pair.report, []).append(pair)
    batches: list[list[ClozePair]] = []
    pool: list[ClozePair] = []
    pool_at = 0
    for group in by_report.values():
        if len(group) >= size or recipe.batches == "report-unpooled":
            batches += [group[i:i + size] for i in range(0, len(group), size)]
            continue
        if not pool:
            pool_at = len(batches)
        pool += group
    pool.sort(key=lambda pair: (pair.council, pair.report))  # stable: each report's pairs stay in the order drawn
    batches[pool_at:pool_at] = [pool[i:i + size] for i in range(0, len(pool), size)]
    random.Random(recipe.seed + 1).shuffle(batches)
    return batches


def contains_anchor(anchors: Sequence[str], contexts: Sequence[str]) -> list[list[bool]]:
    """[i][j]: context j (not i's own) holds anchor i word for word, as an overlapping neighbour chunk does: not a
    wrong answer for it."""
    def fold(text: str) -> str:
        return " ".join(text.split()).casefold()

    folded = [fold(c) for c in contexts]
    return [[i != j and anchor in folded[j] for j in range(len(contexts))]
            for i, anchor in enumerate(map(fold, anchors))]


def wrong_answer_mask(batch: list[ClozePair]) -> tuple[list[str], list[list[bool]]]:
    """The batch's hard wrong answers (of the pairs that have one, in order), and [i][j]: wrong answer j is one of
    the answers paired with anchor i in this batch (another question's wrong answer can be this one's answer),
    so not a wrong answer for it."""
    wrong = [p.wrong for p in batch if p.wrong]
    answers: dict[str, set[str]] = {}
    for p in batch:
        answers.setdefault(p.anchor, set()).add(p.context)
    return wrong, [[w in answers[p.anchor] for w in wrong] for p in batch]


def in_batch_distinct(batch: list[ClozePair]) -> list[ClozePair]:
    """Two windows of one chunk in a batch would each count the other's context as a wrong answer: keep the first."""
    seen: set[int] = set()
    return [p for p in batch if not (p.chunk_id in seen or seen.add(p.chunk_id))]


def adapted_name(base_name: str, pairs: Sequence[ClozePair], recipe: AdaptationRecipe, after: str = "") -> str:
    """`<base>-adapted-<12 hex>`: a digest of the base model's name, the recipe and the pairs trained on (and of
    the adapted model trained from, `after`, when it is not the base model itself)."""
    named = [base_name, RECIPE_VERSION, asdict(recipe)] + ([after] if after else [])
    digest = hashlib.sha256(json.dumps(named).encode())
    for pair in pairs:
        # a wrong answer only where there is one: the names of models trained without them stay as they were
        digest.update(json.dumps([pair.anchor, pair.context, pair.chunk_id, pair.report, pair.council]
                                 + ([pair.wrong] if pair.wrong else [])).encode())
    return f"{base_name}{ADAPTED_TAG}{digest.hexdigest()[:12]}"


def model_family(name: str) -> str:
    """An adapted model's name without its digest ("all-MiniLM-L6-v2-adapted"; "-int8pc2" kept): what its
    abstention threshold is calibrated for. Other names are their own family."""
    return re.sub(rf"({re.escape(ADAPTED_FAMILY)})-[0-9a-f]{{12}}", r"\1", name)


def train(base_model: str, pairs: list[ClozePair], out_dir: Path, recipe: AdaptationRecipe = AdaptationRecipe(),
          threads: int | None = None, log: Callable[[str], None] = lambda message: None,
          checkpointing: bool = True, what: str = "adapting the model") -> Path:
    """One pass over `pairs` (as sampled, in the recipe's batches) from the sentence-transformers model at
    `base_model`; the adapted model saved in out_dir. Each anchor's wrong answers are the batch's other contexts and
    its pairs' hard wrong answers (`wrong`, teaching only). With `checkpointing`, each layer's activations are computed
    again in the backward pass instead of kept: the same weights, bit for bit, in about half the memory and ~1.5x
    the time (a cold ingest of the shipped reports peaked at 3.7-3.9 GB instead of 7.1; adapting took 569 s
    instead of 347 in the twelfth session's runs)."""
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"  # the base model is on disk: never reach for a model hub
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # ingest reports its own progress
    import torch
    import torch.nn.functional as F
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    torch.manual_seed(recipe.seed)
    if threads:
        torch.set_num_threads(threads)
    model = SentenceTransformer(base_model, device="cpu")
    if checkpointing:
        model[0].auto_model.activation_checkpointing_enable()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate)
    started = time.perf_counter()
    batches = training_batches(pairs, recipe)
    steps = len(batches)
    for step, batch in enumerate(batches):
        batch = in_batch_distinct(batch)
        anchors = F.normalize(model(model.preprocess([p.anchor for p in batch]))["sentence_embedding"], dim=-1)
        contexts = F.normalize(model(model.preprocess([p.context for p in batch]))["sentence_embedding"], dim=-1)
        held = contains_anchor([p.anchor for p in batch], [p.context for p in batch])
        wrong, wrong_held = wrong_answer_mask(batch)
        if wrong:  # the hard wrong answers are more columns of the logits: the answer must beat them too
            contexts = torch.cat([contexts, F.normalize(model(model.preprocess(wrong))["sentence_embedding"], dim=-1)])
            held = [row + extra for row, extra in zip(held, wrong_held)]
        logits = anchors @ contexts.T * recipe.scale
        held = torch.tensor(held)
        loss = F.cross_entropy(logits.masked_fill(held, float("-inf")), torch.arange(len(batch)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0 or step == steps - 1:
            log(f"{what}: step {step + 1} of {steps}, loss {loss.item():.3f}, "
                f"{time.perf_counter() - started:.0f} s")
    model.eval()
    model.save(str(out_dir))
    return out_dir


def adapt_into(models_dir: Path, base_model: str, base_name: str, pairs: Sequence[ClozePair],
               recipe: AdaptationRecipe = AdaptationRecipe(), threads: int | None = None,
               log: Callable[[str], None] = lambda message: None, checkpointing: bool = True) -> str:
    """The name of the model adapted on (a sample of) `pairs`, trained into models_dir/<name> unless a model of
    that name is there already (same reports, same recipe). Written under a temporary name and renamed, so a
    folder with a model's name holds the whole model."""
    sample = sample_pairs(pairs, recipe)
    name = adapted_name(base_name, sample, recipe)
    return _train_into(models_dir, name, base_model, sample, recipe, threads, log, checkpointing,
                       f"adapting the model to the reports: {len(sample)} of their {len(pairs)} answer windows "
                       f"(minutes; once for these reports)")


def teach_into(models_dir: Path, adapted: str, base_name: str, pairs: Sequence[ClozePair],
               recipe: AdaptationRecipe = AdaptationRecipe(), threads: int | None = None,
               log: Callable[[str], None] = lambda message: None, checkpointing: bool = True) -> str:
    """The name of the model `adapted` (a folder of models_dir) taught one pass more on `pairs` of questions and
    the answer windows that answer them, each with the hard wrong answer it has (retriever/teaching.py), in the
    order the recipe's seed shuffles them, in batches as drawn; trained into models_dir/<name> unless it is there
    already. Named like any adapted model of `base_name` (its family's abstention model applies), by a digest that
    includes `adapted`."""
    order = list(range(len(pairs)))
    random.Random(recipe.seed).shuffle(order)
    shuffled = [pairs[i] for i in order]
    taught = replace(recipe, pairs=len(shuffled), batches="mixed")
    name = adapted_name(base_name, shuffled, taught, after=adapted)
    return _train_into(models_dir, name, str(models_dir / adapted), shuffled, taught, threads, log, checkpointing,
                       f"teaching the model {len(shuffled)} pairs of a question and its answer (minutes; once for "
                       f"these reports and questions)", what="teaching the model", taught_from=adapted)


def _train_into(models_dir: Path, name: str, base_model: str, pairs: list[ClozePair], recipe: AdaptationRecipe,
                threads: int | None, log: Callable[[str], None], checkpointing: bool, starting: str,
                what: str = "adapting the model", taught_from: str = "") -> str:
    target = models_dir / name
    if (target / "modules.json").is_file():
        log(f"adapted model {name} is already made for these reports")
        return name
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = models_dir / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    log(starting)
    try:
        train(base_model, pairs, tmp, recipe, threads, log, checkpointing, what=what)
        if taught_from:
            (tmp / TAUGHT_FROM_FILE).write_text(taught_from, encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return name
