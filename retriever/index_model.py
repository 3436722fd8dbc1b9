"""Which model an index's vectors come from, and the encoder that reads them: the packaged model, or the
model adapted to the reports when the index was built (retriever/adaptation.py), kept in the index's
models/ folder and named in each build's manifest.

The edges (CLI, API, eval) ask here for the encoder of the index they open, so a question is always
embedded by the model that embedded the reports.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

from retriever.adaptation import AdaptationRecipe, ClozePair, ClozePairs, adapt_into, teach_into
from retriever.build import BuildProgress, BuildSummary, build_index
from retriever.encoder import MODEL_NAME, Encoder, make_encoder, packaged_model_path
from retriever.store import MODELS_DIR, IndexUnavailable, current_build, read_manifest
from retriever.teaching import (hard_wrong_answers, quoted_files, read_teaching_questions, teaching_pairs,
                                with_wrong_answers)

if TYPE_CHECKING:
    from retriever.settings import Settings


class Models(Protocol):
    """Where encoders come from (tests pass fakes)."""

    def packaged(self) -> Encoder:
        """The packaged model's encoder."""

    def adapted(self, folder: Path, name: str) -> Encoder:
        """The encoder of the adapted model saved in `folder`."""

    def adapt(self, models_dir: Path, pairs: Sequence[ClozePair], log: Callable[[str], None]) -> str:
        """The name of the model adapted on `pairs`, made in models_dir/<name> (unless it is there already)."""


@dataclass(frozen=True)
class PackagedModels:
    """The packaged all-MiniLM-L6-v2 and models adapted from it, run by `kind` (torch, onnx, onnx-int8)."""

    kind: str
    cache_dir: Path | None
    threads: int | None = None
    recipe: AdaptationRecipe = AdaptationRecipe()
    # Recompute activations in training's backward pass: the same weights in about half the memory, ~1.5x the time.
    checkpointing: bool = True
    # JSON-lines files of questions whose answers are known (retriever/teaching.py): read when a model is adapted,
    # and taught to it after the inverse cloze pass. None given: the model is not taught.
    teaching_files: tuple[Path, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings, recipe: AdaptationRecipe = AdaptationRecipe()) -> "PackagedModels":
        """The models as the edges (CLI, API, eval) configure them."""
        return cls(settings.encoder, settings.model_cache_dir, settings.encoder_threads, recipe,
                   settings.adapt_checkpointing, tuple(settings.teaching_questions))

    def packaged(self) -> Encoder:
        return make_encoder(self.kind, self.cache_dir, self.threads)

    def adapted(self, folder: Path, name: str) -> Encoder:
        # its ONNX export is kept in its own folder, and goes when the model does
        return make_encoder(self.kind, folder, self.threads, model_path=folder, name=name)

    def adapt(self, models_dir: Path, pairs: Sequence[ClozePair], log: Callable[[str], None]) -> str:
        name = adapt_into(models_dir, packaged_model_path(), MODEL_NAME, pairs, self.recipe, self.threads, log,
                          self.checkpointing)
        if not self.teaching_files:
            return name
        questions = read_teaching_questions(self.teaching_files)
        chunks = pairs.report_chunks() if isinstance(pairs, ClozePairs) else []
        files = quoted_files(questions)
        taught = teaching_pairs(questions, [chunk for chunk in chunks if chunk.file in files])
        if not taught:
            log(f"no quote of the {len(questions)} teaching questions is in these reports: the model is not taught")
            return name
        # each pair with a wrong answer that looks right, from all the reports (retriever/teaching.py)
        wrong = hard_wrong_answers(questions, chunks)
        log(f"{len(wrong)} of the {len(questions)} teaching questions have a hard wrong answer in these reports")
        return teach_into(models_dir, name, MODEL_NAME, with_wrong_answers(taught, wrong), self.recipe, self.threads,
                          log, self.checkpointing)


def adapted_model_of(build: Path) -> str | None:
    """The adapted model a build's vectors come from (its folder under models/), or None for the packaged one."""
    return read_manifest(build).get("adapted_model")


def encoder_for_build(root: Path, build: Path, models: Models) -> Encoder:
    """The encoder of the model that embedded `build` of the index at `root`. Loads nothing."""
    name = adapted_model_of(build)
    if name is None:
        return models.packaged()
    folder = root / MODELS_DIR / name
    if not (folder / "modules.json").is_file():  # a model is saved whole (written aside, then renamed)
        raise IndexUnavailable(f"the model the index was built with ({folder}) is missing: rebuild the index "
                               f"with `onrecord ingest --rebuild`")
    return models.adapted(folder, name)


def encoder_for_index(root: Path, models: Models) -> Encoder:
    """The encoder of the index's current build; the packaged model's when there is no index yet."""
    build = current_build(root)
    return models.packaged() if build is None else encoder_for_build(root, build, models)


def ingest(paths: list[Path], root: Path, models: Models, adapt: bool = True, rebuild: bool = False,
           progress: BuildProgress | None = None, parse_workers: int | None = None) -> BuildSummary:
    """Bring the index up to date, as `onrecord ingest` does. With `adapt`, an index built afresh gets a model
    adapted to its reports; an index that exists keeps the model it has (a report added later is embedded by
    the model adapted to the others), unless it was made the other way (adapted, or not, against `adapt`, or
    its model is missing): then it is built again."""
    try:
        build = current_build(root)
        current_adapted = build is not None and adapted_model_of(build) is not None
    except IndexUnavailable:  # unreadable: built afresh by build_index anyway
        build, current_adapted = None, False
    if build is not None and current_adapted != adapt and not rebuild:
        if progress is not None:
            progress.note(f"the index was built {'without' if adapt else 'with'} a model adapted to the reports: "
                          f"building it again {'with' if adapt else 'without'} one")
        rebuild = True
    encoder = models.packaged()
    if build is not None and not rebuild:
        try:
            encoder = encoder_for_build(root, build, models)
        except IndexUnavailable:  # its model is missing
            rebuild = True

    def adaptation(pairs: Sequence[ClozePair], log: Callable[[str], None]) -> tuple[Encoder, str]:
        name = models.adapt(root / MODELS_DIR, pairs, log)
        return models.adapted(root / MODELS_DIR / name, name), name

    return build_index(paths, root, encoder, progress=progress, rebuild=rebuild, parse_workers=parse_workers,
                       adaptation=adaptation if adapt else None)
