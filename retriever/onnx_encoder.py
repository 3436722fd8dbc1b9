"""The packaged all-MiniLM-L6-v2 run by ONNX Runtime: same vectors, less overhead than torch.

sentence-transformers' own ONNX backend needs `optimum`, which does not install beside the
transformers this project uses; so the packaged weights are exported here, once, with
torch.onnx (optionally quantised to int8 by onnxruntime), and cached in a folder the caller
names. Tokenising is the model's own tokenizer.json (Hugging Face `tokenizers`), pooling is
the mean over real tokens, as the model's sentence-transformers config says.
"""
from __future__ import annotations

import json
import os
import threading
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from retriever.encoder import MODEL_DIMENSION, MODEL_NAME, packaged_model_path

# Names the quantisation: an index built with other int8 weights has other vectors and is refused.
# "-int8pc2": per channel, over the eager-attention export (the sdpa export's int8 vectors differ by up
# to 0.003 in cosine, so its indexes are rebuilt rather than served).
INT8_SUFFIX = "-int8pc2"
# In the cached file's name: a cache written by an older export is exported again, not reused.
EXPORT_TAG = "eager"
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
BATCH_TOKENS = 2048  # padded tokens a batch may hold: eight texts of MAX_TOKENS (see token_batches)


def export_onnx(model_path: str, target: Path, quantize: bool) -> Path:
    """Write the model as ONNX (int8 weights when quantize) to target, atomically."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from transformers import AutoModel

    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()  # a one-off export is not worth a progress bar in ingest's output
    target.parent.mkdir(parents=True, exist_ok=True)
    # Attention written out as plain MatMul/Softmax (not torch's fused sdpa call), the pattern ONNX Runtime
    # fuses into its own attention kernel: 15% more texts a second, fp32 and int8 alike, the same vectors.
    model = AutoModel.from_pretrained(model_path, attn_implementation="eager").eval()

    class HiddenStates(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones(2, 16, dtype=torch.long)
    plain = target.with_name(target.name + ".fp32.tmp")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on control flow are for model authors
        torch.onnx.export(HiddenStates(model), (sample, sample, torch.zeros_like(sample)), str(plain),
                          input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                          opset_version=17, dynamo=False)
    if quantize:
        import logging

        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantized = target.with_name(target.name + ".int8.tmp")

        def not_the_preprocessing_hint(record: logging.LogRecord) -> bool:  # advice for image models
            return "pre-processing" not in record.getMessage()

        root = logging.getLogger()
        root.addFilter(not_the_preprocessing_hint)
        try:
            # One scale per output channel, 7-bit weights: per-tensor int8 moved vectors to a mean cosine
            # of 0.957 (min 0.875) against fp32; per channel with reduce_range 0.991 (min 0.975), as fast
            # (AVX2 without VNNI: reduce_range keeps the u8 x s8 products from saturating).
            quantize_dynamic(str(plain), str(quantized), weight_type=QuantType.QInt8, per_channel=True,
                             reduce_range=True)
        finally:
            root.removeFilter(not_the_preprocessing_hint)
        plain.unlink()
        plain = quantized
    os.replace(plain, target)
    return target


def token_batches(encodings: list, max_texts: int, max_tokens: int) -> list[list]:
    """Consecutive runs of encodings, each at most max_texts long and at most max_tokens once padded to its
    longest (one text alone may exceed it). The attention scores grow with texts x tokens^2: 32 texts of
    256 tokens held ~600 MB at once in ONNX Runtime's arena, 8 of them ~150 MB, at the same speed."""
    batches, current, longest = [], [], 0
    for encoding in encodings:
        length = sum(encoding.attention_mask)
        if current and (len(current) == max_texts or max(longest, length) * (len(current) + 1) > max_tokens):
            batches.append(current)
            current, longest = [], 0
        current.append(encoding)
        longest = max(longest, length)
    if current:
        batches.append(current)
    return batches


def model_tokenizer(model_path: str | Path):
    """The model's own tokenizer (tokenizer.json), cutting a text where the model stops reading (its
    max_seq_length, sentence_bert_config.json)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
    limit = MAX_TOKENS
    config = Path(model_path) / "sentence_bert_config.json"
    if config.is_file():
        limit = int(json.loads(config.read_text()).get("max_seq_length", MAX_TOKENS))
    tokenizer.enable_truncation(limit)
    return tokenizer


class OnnxEncoder:
    """Encoder protocol over ONNX Runtime; exports and loads on first use, never at construction."""

    dimension = MODEL_DIMENSION

    def __init__(self, cache_dir: Path, quantize: bool = False, threads: int | None = None,
                 batch_size: int = 32, model_path: str | None = None, batch_tokens: int = BATCH_TOKENS,
                 name: str | None = None):
        # `name`: the model at model_path (an adapted one); its export is cached under that name
        self.name = (name or MODEL_NAME) + (INT8_SUFFIX if quantize else "")
        self._cache_dir = Path(cache_dir)
        self._quantize = quantize
        self._threads = threads
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self._model_path = model_path
        self._session = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @property
    def model_file(self) -> Path:
        return self._cache_dir / f"{self.name}.{EXPORT_TAG}.onnx"

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort

            model_path = self._model_path or packaged_model_path()
            if not self.model_file.is_file():
                export_onnx(model_path, self.model_file, self._quantize)
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if self._threads:
                options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            tokenizer = model_tokenizer(model_path)
            tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")
            self._tokenizer = tokenizer
            self._session = ort.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._session is None:
            self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        # Longest first by word pieces: every batch is padded to its longest, and texts of one length in
        # characters differ in word pieces (figures, URLs); in the callers' order by characters, a fifth of
        # the ingest workload's tokens were padding.
        order = sorted(range(len(encodings)), key=lambda i: -sum(encodings[i].attention_mask))
        out = []
        for batch in token_batches([encodings[i] for i in order], self.batch_size, self.batch_tokens):
            ids = np.array([e.ids for e in batch], dtype=np.int64)
            mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
            width = int(mask.sum(axis=1).max())  # padded to the longest of the whole call: trim to this batch's
            ids, mask = ids[:, :width], mask[:, :width]
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                              "token_type_ids": np.zeros_like(ids)})[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            out.append(pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        vectors[order] = np.vstack(out)
        return vectors
