"""A few tests with the real packaged model over a small slice of the shipped corpus."""
from __future__ import annotations

import pypdf
import pytest

from retriever.build import build_index
from retriever.encoder import SentenceTransformerEncoder
from retriever.search import Searcher
from retriever.store import open_index
from tests.conftest import REPO_ROOT

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
    writer = pypdf.PdfWriter()
    for page in pypdf.PdfReader(REPO_ROOT / "corpus" / TELFORD).pages[:4]:
        writer.add_page(page)
    with (folder / TELFORD).open("wb") as fh:
        writer.write(fh)
    (folder / WOLVERHAMPTON).write_bytes((REPO_ROOT / "corpus" / WOLVERHAMPTON).read_bytes())
    (folder / "reports.toml").write_text((REPO_ROOT / "corpus" / "reports.toml").read_text())
    root = tmp_path_factory.mktemp("index")
    build_index([folder], root, encoder)
    return Searcher(open_index(root, encoder.name, encoder.dimension), encoder)


def test_encoder_gives_unit_vectors_offline(encoder):
    vectors = encoder.encode(["child sexual exploitation", "taxi licensing"])
    assert vectors.shape == (2, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-4


def test_telford_taxi_decision_is_found_on_its_page(real_searcher):
    answer = real_searcher.search("what did Telford decide on taxi licensing", k=5)
    assert answer.answered
    telford = [p for p in answer.passages if p.document.file == TELFORD]
    assert telford, "no Telford passage in the top 5"
    hits = [p for p in telford if "hackney carriage" in p.text]
    assert hits, "the decision on hackney carriage and private hire conditions is not in the top 5"
    assert all(p.page_start <= 3 and p.page_end >= 2 for p in hits)
    assert all(p.text[p.answer_start:p.answer_end] == p.answer for p in answer.passages)


def test_wolverhampton_licensing_recommendation(real_searcher):
    answer = real_searcher.search("licensed taxis reporting safeguarding concerns in Wolverhampton", k=3)
    top = answer.passages[0]
    assert top.document.file == WOLVERHAMPTON and top.answer_page == 3
    assert "taxi" in top.answer
