"""How the ONNX encoder cuts a call into batches (no model needed)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retriever.onnx_encoder import OnnxEncoder, token_batches


@dataclass
class _Encoding:  # what token_batches reads of a tokenizers.Encoding
    attention_mask: list[int]


def _texts(*lengths: int, padded_to: int | None = None) -> list[_Encoding]:
    width = padded_to or max(lengths)
    return [_Encoding([1] * n + [0] * (width - n)) for n in lengths]


def _sizes(batches) -> list[int]:
    return [len(b) for b in batches]


def test_long_texts_go_fewer_to_a_batch():
    assert _sizes(token_batches(_texts(256, 256, 256, 256, 256), 32, 512)) == [2, 2, 1]
    # padded to the longest real length in the batch, not to the call's padding
    assert _sizes(token_batches(_texts(100, 100, 100, 100, 100, padded_to=256), 32, 512)) == [5]


def test_short_texts_fill_a_batch_up_to_its_count():
    assert _sizes(token_batches(_texts(*[10] * 70), 32, 2048)) == [32, 32, 6]


def test_a_longer_text_closes_the_batch_it_would_overfill():
    # 3 x 100 fits 512; a 200 would make 4 x 200 = 800
    assert _sizes(token_batches(_texts(100, 100, 100, 200, 10), 32, 512)) == [3, 2]


def test_a_text_over_the_budget_goes_alone_and_nothing_is_lost():
    batches = token_batches(_texts(600, 5, 5), 32, 512)
    assert _sizes(batches) == [1, 2]
    assert token_batches([], 32, 512) == []


class _Tokenizer:  # pads the whole call to its longest, as the model's tokenizer does
    def encode_batch(self, texts):
        width = max(len(t.split()) for t in texts)
        out = []
        for number, text in enumerate(texts):
            n = len(text.split())
            out.append(_Encoded([number + 1] * n + [0] * (width - n), [1] * n + [0] * (width - n)))
        return out


@dataclass
class _Encoded:
    ids: list[int]
    attention_mask: list[int]


class _Session:  # each token's state is a one-hot of its id, so a text's pooled vector names the text
    def __init__(self):
        self.shapes = []

    def run(self, outputs, feed):
        ids = feed["input_ids"]
        self.shapes.append(ids.shape)
        return [np.eye(384, dtype=np.float32)[ids]]


def test_a_call_is_embedded_longest_first_by_word_pieces_and_returned_in_its_own_order(tmp_path):
    encoder = OnnxEncoder(tmp_path, batch_tokens=8)
    encoder._tokenizer, encoder._session = _Tokenizer(), _Session()
    texts = ["one", "one two three four", "one two", "one two three four", "one", "one two"]
    vectors = encoder.encode(texts)
    assert list(vectors.argmax(axis=1)) == [1, 2, 3, 4, 5, 6]  # text i's vector comes back at i
    # longest first, so no short text is padded to a long one's 4 tokens (in the call's own order the
    # first batch would be one 4-token text and a 1-token one padded to 4)
    assert encoder._session.shapes == [(2, 4), (4, 2)]
