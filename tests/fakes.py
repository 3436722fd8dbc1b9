"""A deterministic fake encoder: hashed bag of words, so unit tests need no model."""
from __future__ import annotations

import hashlib
import re

import numpy as np


class FakeEncoder:
    name = "fake-hashing-encoder"
    dimension = 64

    def __init__(self):
        self.calls = 0
        self.texts_encoded = 0

    def encode(self, texts):
        self.calls += 1
        self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                out[row, h % self.dimension] += 1.0 if (h >> 8) & 1 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out


class RenamedEncoder:
    """Another encoder's vectors under another model's name (a fake adapted model)."""

    def __init__(self, inner, name: str):
        self.inner, self.name, self.dimension = inner, name, inner.dimension

    def encode(self, texts):
        return self.inner.encode(texts)


class FakeModels:
    """retriever.index_model.Models over the fake encoder: adapting trains nothing, it saves a marker folder
    named by the pairs, and the "adapted" encoder is the fake under that name."""

    def __init__(self, encoder=None):
        self.encoder = encoder or FakeEncoder()
        self.adapted_on: list[list] = []  # the pairs of each adaptation, in order

    def packaged(self):
        return self.encoder

    def adapted(self, folder, name):
        return RenamedEncoder(self.encoder, name)

    def adapt(self, models_dir, pairs, log):
        self.adapted_on.append(list(pairs))
        name = "fake-adapted-" + hashlib.sha256(repr(self.adapted_on[-1]).encode()).hexdigest()[:12]
        (models_dir / name).mkdir(parents=True, exist_ok=True)
        (models_dir / name / "modules.json").write_text("[]")
        return name
