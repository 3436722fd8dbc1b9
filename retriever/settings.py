"""Settings read from the environment (ONRECORD_*), for the edges only: the CLI and the API.

Library code never reads the environment; the edge makes one Settings and passes
plain values down.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def held_out_question_sets() -> list[Path]:
    """The held-out question sets shipped with the reports (eval/holdout*_questions.jsonl), in the order they were
    written (the first, then 2, 3, ...): the model is taught them by default. Never the fixed set, which measures."""
    def number(path: Path) -> int:
        digits = path.name.removeprefix("holdout").removesuffix("_questions.jsonl")
        return int(digits) if digits.isdigit() else 1
    return sorted((REPO_ROOT / "eval").glob("holdout*_questions.jsonl"), key=number)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONRECORD_")

    corpus_dir: Path = REPO_ROOT / "corpus"
    index_dir: Path = REPO_ROOT / "var" / "index"
    host: str = "127.0.0.1"
    port: int = 8000
    ui_port: int = 8501
    cors_origins: list[str] = []
    api_key: str | None = None
    audit_log: Path | None = None
    encoder_threads: int | None = None
    parse_workers: int | None = None  # processes reading one long PDF at ingest (None: CPUs, at most 4)
    # torch | onnx | onnx-int8: how the packaged model runs (eval/bench.py measures each).
    encoder: str = "onnx"
    # Adapt the packaged model to the reports when the index is built afresh (retriever/adaptation.py; minutes,
    # once): the index's vectors and the questions' then come from the adapted model.
    adapt_model: bool = True
    # Recompute activations in the backward pass while adapting: the same model in about half the memory (3.7-3.9
    # GB at its peak for the shipped reports, 7.1 without) and ~1.5x the time. False trades memory for time.
    adapt_checkpointing: bool = True
    model_cache_dir: Path = REPO_ROOT / "var" / "models"
    # Questions whose answers are known, taught to the adapted model after the inverse cloze pass
    # (retriever/teaching.py): JSON-lines files in the evaluation's format. ONRECORD_TEACHING_QUESTIONS='[]': none.
    teaching_questions: list[Path] = Field(default_factory=held_out_question_sets)
