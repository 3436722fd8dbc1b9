from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import ChunkingParams
from retriever.build import build_index
from retriever.search import Searcher
from retriever.store import open_index
from tests.fakes import FakeEncoder
from tests.pdf_fixtures import report_pages, write_pdf

REPO_ROOT = Path(__file__).resolve().parent.parent
# The fixture reports are short: small chunks give each page chunks of its own.
SMALL_CHUNKS = ChunkingParams(min_words=15, max_words=40, overlap_words=5)

TAXI_BODY = [
    ["Decision Notice",
     "RESOLVED that the Cabinet write to the Minister for Transport calling for national",
     "standards for taxi licensing, so that every hackney carriage and private hire",
     "driver receives training on child sexual exploitation.",
     "The meeting ended at 6.06pm."],
    ["Taxi Licensing",
     "Officers told us that drivers licensed elsewhere work in the borough. Shropshire",
     "revised its policy in 2016 and it is now more robust than ours.",
     "The Committee recommends a review of taxi licensing policies."],
    ["Family Connect",
     "Family Connect is the front door for referrals about children. It is a Multi-Agency",
     "Safeguarding Hub (MASH) where police, health and social care share information.",
     "Referrals are screened within one working day."],
]
BOARD_BODY = [
    ["Overview",
     "The Safeguarding Children Board (WSCB) published its annual report in July 2015.",
     "In total 72 young people were assessed as being at risk of sexual exploitation",
     "between October and December 2015, of whom 60 were female and 12 were male."],
    ["Training",
     "All councillors must complete e-learning on safeguarding. Attendance is reported",
     "six monthly to the Councillor Development and IT Advisory Group."],
    ["Counselling",
     "Counselling support for victims is provided by the Black Country Partnership",
     "Foundation Trust, and gaps in services are to be reviewed."],
]

METADATA = """
[[report]]
file = "taxi.pdf"
title = "Tackling CSE Together"
council = "Telford & Wrekin"
council_full = "Telford & Wrekin Council"
body = "Cabinet"
date = "2018-03-29"
description = "Cabinet decision on CSE"

[[report]]
file = "board.pdf"
title = "Scrutiny Review of CSE"
council = "Wolverhampton"
council_full = "City of Wolverhampton Council"
body = "Scrutiny review group"
date = "2016-04"
description = "A scrutiny review"
"""


def make_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_pdf(folder / "taxi.pdf", report_pages("Telford & Wrekin Cabinet: Tackling CSE Together", TAXI_BODY))
    write_pdf(folder / "board.pdf", report_pages("Wolverhampton Scrutiny Review of CSE", BOARD_BODY))
    (folder / "reports.toml").write_text(METADATA, encoding="utf-8")
    return folder


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    return make_corpus(tmp_path / "corpus")


@pytest.fixture
def built_index(tmp_path, corpus_dir, fake_encoder) -> Path:
    root = tmp_path / "index"
    build_index([corpus_dir], root, fake_encoder, SMALL_CHUNKS)
    return root


@pytest.fixture
def searcher(built_index, fake_encoder) -> Searcher:
    return Searcher(open_index(built_index, fake_encoder.name, fake_encoder.dimension), fake_encoder)
