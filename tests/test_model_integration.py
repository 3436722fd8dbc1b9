"""A few tests with the real packaged model over a small slice of the shipped corpus."""
from __future__ import annotations

import pytest

from retriever.build import build_index
from retriever.encoder import SentenceTransformerEncoder
from retriever.search import Searcher
from retriever.store import open_index
from tests.conftest import REPO_ROOT
from tests.pdf_fixtures import first_pages

pytestmark = pytest.mark.model

TELFORD = "telford-wrekin-2018-03-29-cabinet-tackling-cse-together.pdf"
WOLVERHAMPTON = "wolverhampton-2016-cabinet-cse-review-response.pdf"


@pytest.fixture(scope="module")
def encoder():
    return SentenceTransformerEncoder()


@pytest.fixture(scope="module")
def real_searcher(tmp_path_factory, encoder):
    """The Telford decision notice (its first 4 pages) and the Wolverhampton Cabinet response."""
    folder = tmp_path_factory.mktemp("slice")
    first_pages(REPO_ROOT / "corpus" / TELFORD, folder / TELFORD, 4)
    (folder / WOLVERHAMPTON).write_bytes((REPO_ROOT / "corpus" / WOLVERHAMPTON).read_bytes())
    (folder / "reports.toml").write_text((REPO_ROOT / "corpus" / "reports.toml").read_text())
    root = tmp_path_factory.mktemp("index")
    build_index([folder], root, encoder)
    return Searcher(open_index(root, encoder.name, encoder.dimension), encoder)


def test_encoder_gives_unit_vectors_offline(encoder):
    vectors = encoder.encode(["child sexual exploitation", "taxi licensing"])
    assert vectors.shape == (2, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-4


def test_a_question_naming_telford_is_answered_from_telford_first(real_searcher):
    answer = real_searcher.search("what did Telford decide on taxi licensing", k=5)
    assert answer.inferred_council == "Telford & Wrekin"
    assert answer.passages[0].document.file == TELFORD
    assert all(p.text[p.answer_start:p.answer_end] == p.answer for p in answer.passages)


def test_telford_hackney_carriage_decision_is_found_on_its_page(real_searcher):
    answer = real_searcher.search("what did Telford cabinet resolve about national standards for hackney carriage "
                                  "and private hire drivers", k=5)
    assert answer.answered
    hits = [p for p in answer.passages if p.document.file == TELFORD and "hackney carriage" in p.answer]
    assert hits, "the resolution on hackney carriage and private hire conditions is not marked in the top 5"
    assert all(p.answer_page in (2, 3) for p in hits)


def test_wolverhampton_licensing_recommendation(real_searcher):
    answer = real_searcher.search("licensed taxis reporting safeguarding concerns in Wolverhampton", k=3)
    top = answer.passages[0]
    assert top.document.file == WOLVERHAMPTON and top.answer_page == 3
    assert "taxi" in top.answer


def test_onnx_encoder_gives_the_same_vectors_as_torch(encoder, tmp_path):
    from retriever.encoder import make_encoder

    texts = ["what is a MASH?", "Operation Chalice", "The Cabinet resolved that drivers be trained. " * 12]
    onnx = make_encoder("onnx", tmp_path)
    agreement = (onnx.encode(texts) * encoder.encode(texts)).sum(axis=1)
    assert onnx.name == encoder.name  # same vectors, so an index built by one serves the other
    assert agreement.min() > 0.9999
    assert onnx.model_file.is_file() and onnx.model_file.parent == tmp_path  # exported once, then reused
    onnx.batch_tokens = 16  # every text in a batch of its own, trimmed to its own length
    assert abs(onnx.encode(texts) - onnx.encode(texts[::-1])[::-1]).max() < 1e-5
    assert ((onnx.encode(texts) * encoder.encode(texts)).sum(axis=1)).min() > 0.9999


def test_ingest_adapts_the_model_to_the_reports_and_serves_with_it(tmp_path, encoder):
    """A few training steps over two short reports: the adapted model is saved in the index, named in its
    manifest, moves the vectors, and its ONNX export computes what torch computes."""
    import json

    from retriever.adaptation import AdaptationRecipe
    from retriever.index_model import PackagedModels, encoder_for_index, ingest
    from retriever.store import current_build

    folder = tmp_path / "slice"
    folder.mkdir()
    first_pages(REPO_ROOT / "corpus" / TELFORD, folder / TELFORD, 4)
    (folder / WOLVERHAMPTON).write_bytes((REPO_ROOT / "corpus" / WOLVERHAMPTON).read_bytes())
    root = tmp_path / "index"
    models = PackagedModels("onnx", tmp_path / "cache", recipe=AdaptationRecipe(pairs=16, batch_size=8))
    summary = ingest([folder], root, models, adapt=True)
    manifest = json.loads((current_build(root) / "manifest.json").read_text())
    name = manifest["adapted_model"]
    assert name.startswith("all-MiniLM-L6-v2-adapted-") and manifest["model"] == name and summary.timings["adapt"] > 0
    adapted = encoder_for_index(root, models)
    torch_adapted = encoder_for_index(root, PackagedModels("torch", None))
    texts = ["what did Telford decide on taxi licensing", "Child Sexual Exploitation"]
    assert ((adapted.encode(texts) * torch_adapted.encode(texts)).sum(axis=1)).min() > 0.9999
    assert ((adapted.encode(texts) * encoder.encode(texts)).sum(axis=1)).max() < 0.9999  # it did learn
    searcher = Searcher(open_index(root, adapted.name, adapted.dimension), adapted)
    assert searcher.search("what did Telford decide on taxi licensing").passages
    again = ingest([folder], root, models, adapt=True, rebuild=True)  # same reports, same recipe: reused
    assert again.timings["adapt"] < 5 and encoder_for_index(root, models).name == name


def test_training_with_checkpointed_activations_gives_the_same_weights(tmp_path):
    """Checkpointing trades memory for recomputation only: the adapted model's name does not record it, so
    the weights must not depend on it."""
    from pathlib import Path

    from safetensors.numpy import load_file

    from retriever.adaptation import AdaptationRecipe, ClozePair, train
    from retriever.encoder import packaged_model_path

    pairs = [ClozePair(f"the panel met {n} times to review taxi licensing decisions",
                       f"Section {n}. The council's licensing committee reviewed each case and recorded its "
                       f"reasons; officers reported back to Cabinet on progress with the action plan.", n)
             for n in range(8)]
    recipe = AdaptationRecipe(pairs=8, batch_size=4, learning_rate=1e-3)
    base = Path(packaged_model_path())
    weights = [load_file(train(str(base), pairs, tmp_path / str(flag), recipe, checkpointing=flag) / "model.safetensors")
               for flag in (True, False)]
    original = load_file(base / "model.safetensors")
    assert weights[0].keys() == weights[1].keys()
    assert all((weights[0][k] == weights[1][k]).all() for k in weights[0])
    assert any((weights[0][k] != original[k]).any() for k in weights[0] if k in original)  # it trained


def test_teaching_with_hard_wrong_answers_trains_on_them(tmp_path):
    """A wrong answer is one more column of the batch's logits: the same pairs with and without them train
    different weights, and the teaching runs with the wrong answers of only some pairs."""
    from pathlib import Path

    from safetensors.numpy import load_file

    from retriever.adaptation import AdaptationRecipe, ClozePair, train
    from retriever.encoder import packaged_model_path

    pairs = [ClozePair(f"how often did panel {n} meet?", f"Panel {n} met monthly to review taxi licensing.", n,
                       wrong=f"Panel {n} was set up in 2016." if n % 2 else "") for n in range(4)]
    recipe = AdaptationRecipe(pairs=4, batch_size=4, learning_rate=1e-3, batches="mixed")
    base = str(Path(packaged_model_path()))
    with_wrong = load_file(train(base, pairs, tmp_path / "wrong", recipe) / "model.safetensors")
    without = load_file(train(base, [ClozePair(p.anchor, p.context, p.chunk_id) for p in pairs], tmp_path / "none",
                              recipe) / "model.safetensors")
    assert any((with_wrong[k] != without[k]).any() for k in with_wrong)
