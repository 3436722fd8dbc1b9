"""The HTTP API (docs/http-contract.md) over a tiny index built with the fake encoder."""
from __future__ import annotations

import json
import logging
import os
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.pages import CorpusFiles
from retriever.build import build_index
from retriever.search import Searcher
from retriever.settings import Settings
from retriever.store import DocumentRecord, current_build, open_index, read_manifest
from tests.conftest import REPO_ROOT, SMALL_CHUNKS, make_corpus
from tests.fakes import FakeEncoder
from tests.pdf_fixtures import first_pages, report_pages, write_pdf

NO_INDEX = "run `onrecord ingest`"


def make_settings(index_dir: Path, corpus_dir: Path, **changes) -> Settings:
    values = dict(index_dir=index_dir, corpus_dir=corpus_dir, cors_origins=[], api_key=None, audit_log=None)
    return Settings(**{**values, **changes})


def client_for(settings: Settings, encoder=None, **kwargs) -> TestClient:
    return TestClient(create_app(settings, encoder or FakeEncoder(), reload_interval=0, **kwargs))


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One index for the read-only tests: (settings, encoder)."""
    base = tmp_path_factory.mktemp("api")
    corpus = make_corpus(base / "corpus")
    encoder = FakeEncoder()
    build_index([corpus], base / "index", encoder, SMALL_CHUNKS)
    return make_settings(base / "index", corpus), encoder


@pytest.fixture(scope="module")
def client(shared):
    settings, encoder = shared
    with client_for(settings, encoder) as c:
        yield c


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def assert_search_contract(body: dict, k: int) -> None:
    assert set(body) == {"question", "answered", "confidence", "inferred", "expansions", "spelling", "words",
                         "missing_words", "passages"}
    assert set(body["missing_words"]) <= set(body["words"])
    assert isinstance(body["answered"], bool) and isinstance(body["confidence"], float)
    assert set(body["inferred"]) == {"council"}
    assert 1 <= len(body["passages"]) <= k
    for rank, p in enumerate(body["passages"], start=1):
        assert set(p) == {"rank", "score", "text", "answer", "answer_start", "answer_end", "page_start", "page_end",
                          "answer_page", "kind", "also_on_pages", "document", "url", "page_image_url"}
        assert p["rank"] == rank
        assert p["text"][p["answer_start"]:p["answer_end"]] == p["answer"]
        assert 1 <= p["page_start"] <= p["answer_page"] <= p["page_end"]
        assert set(p["document"]) == {"id", "file", "title", "council", "date"}
        doc = p["document"]["id"]
        assert p["url"] == f"/documents/{doc}/file#page={p['answer_page']}"
        assert p["page_image_url"] == f"/documents/{doc}/pages/{p['answer_page']}.png"


# -- happy paths -------------------------------------------------------------------------------
def test_app_creation_does_no_io_and_loads_no_model(tmp_path):
    code = ("import sys; import api.app as a; "
            "assert a.app.state.holder is None; "
            "assert 'sentence_transformers' not in sys.modules and 'torch' not in sys.modules, 'model imported'")
    env = {**os.environ, "ONRECORD_INDEX_DIR": str(tmp_path / "nowhere")}
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, check=True, timeout=60)
    assert not (tmp_path / "nowhere").exists()


def test_lifespan_warms_the_encoder_once(shared):
    settings, _ = shared
    encoder = FakeEncoder()
    app = create_app(settings, encoder)
    assert encoder.calls == 0
    with TestClient(app) as c:
        assert encoder.calls == 1  # the warm-up, before any request
        assert c.get("/healthz").status_code == 200


def test_healthz(client, shared):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["documents"] == 2 and body["chunks"] >= 6
    assert body["model"] == FakeEncoder.name and body["built_at"] and body["abstention"] == "built-in"


def test_search_get(client, shared):
    r = client.get("/search", params={"q": "taxi licensing hackney carriage", "k": 3})
    assert r.status_code == 200
    body = r.json()
    assert_search_contract(body, 3)
    assert body["question"] == "taxi licensing hackney carriage"
    assert body["passages"][0]["document"]["id"] == "taxi"
    # exactly what the Searcher says, plus the URLs
    settings, encoder = shared
    searcher = Searcher(open_index(settings.index_dir, encoder.name, encoder.dimension), encoder)
    expected = searcher.search("taxi licensing hackney carriage", k=3).to_dict()
    for p in body["passages"]:
        del p["url"], p["page_image_url"]
    assert body == json.loads(json.dumps(expected))


def test_search_post_equals_get(client):
    q = "Multi-Agency Safeguarding Hub MASH Family Connect"
    got = client.get("/search", params={"q": q, "k": 2}).json()
    posted = client.post("/search", json={"q": q, "k": 2, "council": None, "document": None})
    assert posted.status_code == 200 and posted.json() == got
    top = got["passages"][0]
    assert top["document"]["id"] == "taxi" and top["answer_page"] == 3


def test_a_slip_is_searched_as_the_reports_spell_it_unless_correct_is_false(client):
    q = "Shropshrie licensing policy"
    corrected = client.get("/search", params={"q": q, "k": 2}).json()
    assert corrected["question"] == q
    assert corrected["spelling"] == {"question": "Shropshire licensing policy", "searched": True,
                                     "corrections": [{"typed": "shropshrie", "suggested": "shropshire"}]}
    spelt = client.get("/search", params={"q": "Shropshire licensing policy", "k": 2}).json()
    assert spelt["spelling"] is None and spelt["passages"] == corrected["passages"]
    as_typed = client.get("/search", params={"q": q, "k": 2, "correct": "false"}).json()
    assert as_typed["spelling"] == dict(corrected["spelling"], searched=False)
    assert client.post("/search", json={"q": q, "k": 2, "correct": False}).json() == as_typed
    assert client.get("/search", params={"q": q, "correct": "maybe"}).status_code == 422


def test_the_response_names_the_words_searched_and_those_no_report_holds(client):
    body = client.get("/search", params={"q": "Shropshire licensing for zeppelins", "k": 2}).json()
    assert body["words"] == ["shropshire", "licensing", "zeppelins"] and body["missing_words"] == ["zeppelins"]
    assert client.get("/search", params={"q": "Shropshrie licensing"}).json()["missing_words"] == []
    as_typed = client.get("/search", params={"q": "Shropshrie licensing", "correct": "false"}).json()
    assert as_typed["missing_words"] == ["shropshrie"]
    nothing = client.post("/search", json={"q": "what is it?"}).json()
    assert nothing["words"] == [] and nothing["missing_words"] == [] and nothing["answered"] is False


def test_search_filters(client):
    r = client.get("/search", params={"q": "safeguarding", "k": 10, "council": "wolverhampton"})
    assert r.status_code == 200
    assert {p["document"]["council"] for p in r.json()["passages"]} == {"Wolverhampton"}
    r = client.get("/search", params={"q": "safeguarding", "k": 10, "document": "taxi.pdf"})
    assert {p["document"]["id"] for p in r.json()["passages"]} == {"taxi"}
    r = client.post("/search", json={"q": "safeguarding", "k": 10, "document": "board"})
    assert {p["document"]["id"] for p in r.json()["passages"]} == {"board"}
    r = client.get("/search", params={"q": "what did the cabinet resolve", "kind": "decision"})
    assert r.status_code == 200
    assert all(p["kind"] == "decision" for p in r.json()["passages"])


def test_search_infer_switch(client):
    inferred = client.get("/search", params={"q": "what did Telford decide on taxi licensing"}).json()
    assert inferred["inferred"]["council"] == "Telford & Wrekin"
    plain = client.get("/search", params={"q": "what did Telford decide on taxi licensing", "infer": "false"}).json()
    assert plain["inferred"]["council"] is None


def test_k_bounds_are_accepted(client):
    assert len(client.get("/search", params={"q": "safeguarding", "k": 1}).json()["passages"]) == 1
    assert client.get("/search", params={"q": "safeguarding", "k": 50}).status_code == 200
    assert client.get("/search", params={"q": "x" * 1000}).status_code == 200


def test_documents(client):
    r = client.get("/documents")
    assert r.status_code == 200
    docs = {d["id"]: d for d in r.json()["documents"]}
    assert set(docs) == {"board", "taxi"}
    taxi = docs["taxi"]
    assert taxi == {"id": "taxi", "file": "taxi.pdf", "title": "Tackling CSE Together", "council": "Telford & Wrekin",
                    "council_full": "Telford & Wrekin Council", "body": "Cabinet", "date": "2018-03-29",
                    "description": "Cabinet decision on CSE", "page_count": 3, "also_files": [],
                    "url": "/documents/taxi/file"}
    assert client.get("/documents/taxi").json() == taxi


def test_page_text(client):
    r = client.get("/documents/taxi/pages/3")
    assert r.status_code == 200
    body = r.json()
    assert body["document_id"] == "taxi" and body["page"] == 3 and body["page_count"] == 3
    assert "Family Connect" in body["text"]
    assert body["image_url"] == "/documents/taxi/pages/3.png" and body["url"] == "/documents/taxi/file#page=3"


def test_page_image_is_a_png_of_the_requested_width(client):
    r = client.get("/documents/taxi/pages/1.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    width, height = png_size(r.content)
    assert width == 800 and height > 0
    for w in (100, 333, 2000):
        r = client.get("/documents/board/pages/2.png", params={"width": w})
        assert r.status_code == 200 and png_size(r.content)[0] == w


def test_page_image_width_limits(client):
    for w in (99, 2001, 0, -5, "wide"):
        r = client.get("/documents/taxi/pages/1.png", params={"width": w})
        assert r.status_code == 422, w
        assert "width" in json.dumps(r.json()["detail"])


def test_file_is_the_pdf(client, shared):
    settings, _ = shared
    r = client.get("/documents/taxi/file")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content == (settings.corpus_dir / "taxi.pdf").read_bytes()


def test_every_passage_url_resolves(client):
    for p in client.get("/search", params={"q": "taxi licensing", "k": 5}).json()["passages"]:
        assert client.get(p["page_image_url"]).headers["content-type"] == "image/png"
        assert client.get(p["url"].split("#")[0]).status_code == 200


def test_glossary(client):
    r = client.get("/glossary")
    assert r.status_code == 200
    terms = r.json()["terms"]
    mash = [t for t in terms if t["term"] == "MASH"]
    assert mash and mash[0]["expansion"] == "Multi-Agency Safeguarding Hub"
    assert mash[0]["document"]["id"] == "taxi" and mash[0]["page"] == 3
    assert mash[0]["url"] == "/documents/taxi/file#page=3"
    assert "MASH" in mash[0]["quote"]
    wolves = client.get("/glossary", params={"council": "Wolverhampton"}).json()["terms"]
    assert all(t["document"]["council"] == "Wolverhampton" for t in wolves)
    assert "MASH" not in {t["term"] for t in wolves}


def test_openapi_and_docs(client):
    schema = client.get("/openapi.json").json()
    assert {"/search", "/documents", "/documents/{doc_id}", "/documents/{doc_id}/pages/{n}",
            "/documents/{doc_id}/pages/{n}.png", "/documents/{doc_id}/file", "/glossary",
            "/healthz"} <= set(schema["paths"])
    assert schema["paths"]["/search"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert client.get("/docs").status_code == 200


# -- bad requests --------------------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    {}, {"q": ""}, {"q": "   "}, {"q": "\t\n"}, {"q": "x" * 1001},
    {"q": "taxi", "k": 0}, {"q": "taxi", "k": 51}, {"q": "taxi", "k": -1}, {"q": "taxi", "k": "abc"},
    {"q": "taxi", "k": "2.5"}, {"q": "taxi", "infer": "maybe"},
])
def test_bad_search_parameters_get_422(client, params):
    r = client.get("/search", params=params)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]
    body = {"q": "taxi", **params} if params else {}
    r = client.post("/search", json=body if params else {})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("field,value,valid", [
    ("council", "Atlantis", ["Telford & Wrekin", "Wolverhampton"]),
    ("document", "nope.pdf", ["board", "taxi"]),
    ("kind", "minutes", ["decision"]),
])
def test_unknown_filter_names_the_valid_values(client, field, value, valid):
    for r in (client.get("/search", params={"q": "taxi", field: value}),
              client.post("/search", json={"q": "taxi", field: value})):
        assert r.status_code == 422
        detail = r.json()["detail"]
        assert value in detail and all(v in detail for v in valid), detail
    if field == "council":
        r = client.get("/glossary", params={"council": value})
        assert r.status_code == 422 and all(v in r.json()["detail"] for v in valid)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"q": 5}', b'{"q": "taxi", "k": "many"}', b"null"])
def test_bad_post_bodies_get_422(client, body):
    r = client.post("/search", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text


def test_body_and_query_string_limits(client):
    r = client.post("/search", content=b'{"q": "' + b"a" * 20000 + b'"}', headers={"content-type": "application/json"})
    assert r.status_code == 413 and "detail" in r.json()
    r = client.get("/search", params={"q": "taxi", "council": "x" * 20000})
    assert r.status_code == 414 and "detail" in r.json()
    # the longest allowed question, in 4-byte characters, still fits the query string limit
    r = client.get("/search", params={"q": "\U0001F600" * 1000})
    assert r.status_code == 200


def test_chunked_body_over_the_limit_is_refused(client):
    def chunks():
        yield b'{"q": "'
        for _ in range(40):
            yield b"a" * 1024
        yield b'"}'
    r = client.post("/search", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize("path", [
    "/documents/nope", "/documents/nope/pages/1", "/documents/nope/pages/1.png", "/documents/nope/file",
    "/documents/taxi/pages/0", "/documents/taxi/pages/-1", "/documents/taxi/pages/99999",
    "/documents/taxi/pages/4", "/documents/taxi/pages/abc", "/documents/taxi/pages/1.5",
    "/documents/taxi/pages/" + "9" * 40, "/documents/taxi/pages/0.png", "/documents/taxi/pages/-1.png",
    "/documents/taxi/pages/99999.png", "/documents/taxi/pages/abc.png", "/documents/taxi/pages/4.png",
    "/documents/..%2F..%2Fetc%2Fpasswd/file", "/documents/%2e%2e/pages/1", "/documents/%2e%2e/file",
    "/documents/..%2Fcorpus%2Ftaxi/file", "/documents/%2Fetc%2Fpasswd/file", "/documents/taxi.pdf/file",
    "/documents/..%5C..%5Cetc%5Cpasswd/file", "/documents/taxi%00/file", "/documents/%252e%252e/file",
    "/documents/taxi/pages/1%2F..%2F..%2F2", "/documents/taxi/file/..%2F..%2F..%2Fetc%2Fpasswd",
    "/etc/passwd", "/documents/../../etc/passwd",
])
def test_unknown_documents_pages_and_path_tricks_get_404(client, path):
    r = client.get(path)
    assert r.status_code == 404, (path, r.status_code, r.text)
    assert r.json()["detail"]
    assert "root:" not in r.text


def test_files_are_served_only_from_inside_the_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (tmp_path / "secret.pdf").write_bytes(b"%PDF secret")
    (corpus / "inside.pdf").write_bytes(b"%PDF inside")
    (corpus / "sub").mkdir()
    (corpus / "sub" / "nested.pdf").write_bytes(b"%PDF nested")
    (corpus / "link.pdf").symlink_to(tmp_path / "secret.pdf")
    files = CorpusFiles(corpus)

    def doc(name, also=()):
        return DocumentRecord("d", name, "t", "c", "c", "b", None, "", 1, tuple(also))

    assert files.locate(doc("inside.pdf")) == (corpus / "inside.pdf").resolve()
    assert files.locate(doc("nested.pdf")) == (corpus / "sub" / "nested.pdf").resolve()
    assert files.locate(doc("gone.pdf", also=["inside.pdf"])) == (corpus / "inside.pdf").resolve()
    for name in ["../secret.pdf", str(tmp_path / "secret.pdf"), "link.pdf", "..", "sub/../../secret.pdf",
                 "secret.pdf", "", "inside.pdf\0"]:
        assert files.locate(doc(name)) is None, name


def test_no_500_for_odd_inputs(client):
    odd = ["'; DROP TABLE chunks;--", '"', '"unbalanced', "*", "NEAR(", "taxi AND", "OR", "a:b", "^", "{}",
           "\x00", "\x1b[31m", "\u202e", "ﷺ", "\U0001F600", "名古屋", "x" * 999]
    for q in odd:
        for r in (client.get("/search", params={"q": q, "council": q, "document": q}),
                  client.get("/glossary", params={"council": q}),
                  client.get("/documents/" + quote(q, safe=""))):
            assert r.status_code < 500, (q, r.status_code, r.text)


# -- no index, damaged index, re-ingest ----------------------------------------------------------
INDEX_PATHS = ["/search?q=taxi", "/documents", "/documents/taxi", "/documents/taxi/pages/1",
               "/documents/taxi/pages/1.png", "/documents/taxi/file", "/glossary"]


def test_an_archives_own_abstention_model_is_read_with_the_index_and_a_bad_one_passed_over(tmp_path, corpus_dir,
                                                                                           caplog):
    from retriever.abstention import CALIBRATION_FILE, FEATURES, AbstentionModel, Calibration, write_calibration

    encoder = FakeEncoder()
    build_index([corpus_dir], tmp_path / "index", encoder, SMALL_CHUNKS)
    settings = make_settings(tmp_path / "index", corpus_dir)
    question = {"q": "how are taxi drivers licensed"}
    with client_for(settings, encoder) as c:
        built_in = c.get("/search", params=question).json()
    model = read_manifest(current_build(tmp_path / "index"))["model"]
    for threshold in (0.4, 0.6):  # a model giving every question a probability of 0.5
        write_calibration(tmp_path / "index",
                          Calibration(model, AbstentionModel((0.0,) * len(FEATURES), 0.0, threshold)))
        with client_for(settings, encoder) as c:
            body = c.get("/search", params=question).json()
            assert c.get("/healthz").json()["abstention"] == "own"
        assert body["answered"] == (threshold < 0.5) and body["confidence"] == 0.5
    # fitted for a model the index is not embedded by (rebuilt since with a model adapted again): said, not used
    write_calibration(tmp_path / "index", Calibration("all-MiniLM-L6-v2-adapted-0123456789ab",
                                                      AbstentionModel((0.0,) * len(FEATURES), 0.0, 0.6)))
    caplog.set_level(logging.WARNING, logger="onrecord.api")
    with client_for(settings, encoder) as c:
        assert c.get("/search", params=question).json() == built_in
        assert c.get("/healthz").json()["abstention"] == "built-in"
    assert any("was fitted for all-MiniLM-L6-v2-adapted-0123456789ab" in r.getMessage() for r in caplog.records)
    caplog.clear()
    (tmp_path / "index" / CALIBRATION_FILE).write_text("{half a file", encoding="utf-8")
    with client_for(settings, encoder) as c:
        response = c.get("/search", params=question)
    assert response.status_code == 200 and response.json() == built_in
    assert any(f"{CALIBRATION_FILE} cannot be read" in r.getMessage() and "built-in model is used" in r.getMessage()
               for r in caplog.records)


def test_without_an_index_every_endpoint_answers_503_then_recovers(tmp_path, corpus_dir, caplog):
    root = tmp_path / "empty-index"
    settings = make_settings(root, corpus_dir)
    encoder = FakeEncoder()
    caplog.set_level(logging.INFO, logger="onrecord.api")
    with client_for(settings, encoder) as c:
        for _ in range(3):
            for path in INDEX_PATHS:
                r = c.get(path)
                assert r.status_code == 503, path
                assert NO_INDEX in r.json()["detail"]
            assert c.post("/search", json={"q": "taxi"}).status_code == 503
            r = c.get("/healthz")
            assert r.status_code == 503 and r.json()["status"] == "no index" and NO_INDEX in r.json()["detail"]
        problems = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
        assert len(problems) == 1 and "onrecord ingest" in problems[0].getMessage()
        # bad parameters are still 422, not 503
        assert c.get("/search", params={"q": " "}).status_code == 422
        # build it while the server runs: the next request finds it, no restart
        build_index([corpus_dir], root, encoder, SMALL_CHUNKS)
        assert c.get("/healthz").json()["status"] == "ok"
        assert c.get("/search", params={"q": "taxi"}).status_code == 200


def test_a_damaged_index_gives_503_not_a_crash(built_index, corpus_dir, fake_encoder):
    (current_build(built_index) / "index.sqlite").write_bytes(b"this is not a database" * 100)
    with client_for(make_settings(built_index, corpus_dir), fake_encoder) as c:
        r = c.get("/search", params={"q": "taxi"})
        assert r.status_code == 503 and NO_INDEX in r.json()["detail"]
        assert c.get("/healthz").status_code == 503


def test_an_index_of_another_model_gives_503(built_index, corpus_dir):
    class OtherEncoder(FakeEncoder):
        name = "another-model"

    with client_for(make_settings(built_index, corpus_dir), OtherEncoder()) as c:
        r = c.get("/documents")
        assert r.status_code == 503 and NO_INDEX in r.json()["detail"]


PARKS = [["Parks", "The Committee resolved to plant four hundred oak trees in Wombourne park.",
          "The arboretum will open in spring."]]


def test_reingest_while_serving_switches_to_the_new_build(built_index, corpus_dir, fake_encoder):
    with client_for(make_settings(built_index, corpus_dir), fake_encoder) as c:
        assert {d["id"] for d in c.get("/documents").json()["documents"]} == {"board", "taxi"}
        old_built = c.get("/healthz").json()["built_at"]
        write_pdf(corpus_dir / "parks.pdf", report_pages("Parks report", PARKS))
        build_index([corpus_dir], built_index, fake_encoder, SMALL_CHUNKS)
        assert {d["id"] for d in c.get("/documents").json()["documents"]} == {"board", "parks", "taxi"}
        top = c.get("/search", params={"q": "oak trees arboretum Wombourne"}).json()["passages"][0]
        assert top["document"]["id"] == "parks"
        assert c.get(top["page_image_url"]).status_code == 200
        health = c.get("/healthz").json()
        assert health["documents"] == 3 and health["built_at"] >= old_built


def test_a_broken_new_build_leaves_the_old_one_serving(built_index, corpus_dir, fake_encoder, caplog):
    with client_for(make_settings(built_index, corpus_dir), fake_encoder) as c:
        assert c.get("/healthz").status_code == 200
        bad = built_index / "builds" / "99990101T000000000000Z"
        bad.mkdir()
        (bad / "manifest.json").write_text("{half written", encoding="utf-8")
        link = built_index / "current"
        link.unlink()
        link.symlink_to(bad.relative_to(built_index))
        for _ in range(3):
            assert c.get("/search", params={"q": "taxi"}).status_code == 200
        assert c.get("/healthz").json()["documents"] == 2
        assert any("still serving" in rec.getMessage() for rec in caplog.records)


def test_reload_is_checked_at_most_once_per_interval(built_index, corpus_dir, fake_encoder):
    app = create_app(make_settings(built_index, corpus_dir), fake_encoder, reload_interval=3600)
    with TestClient(app) as c:
        write_pdf(corpus_dir / "parks.pdf", report_pages("Parks report", PARKS))
        build_index([corpus_dir], built_index, fake_encoder, SMALL_CHUNKS)
        assert len(c.get("/documents").json()["documents"]) == 2  # not looked at yet
        app.state.holder.expire()
        assert len(c.get("/documents").json()["documents"]) == 3


# -- errors, CORS, API key, audit ---------------------------------------------------------------
def test_unexpected_errors_are_500_without_a_stack_trace(shared, caplog):
    settings, encoder = shared
    app = create_app(settings, encoder)

    def boom():
        raise RuntimeError("secret internals /etc/shadow")

    app.add_api_route("/boom", boom)
    with TestClient(app) as c:
        r = c.get("/boom")
    assert r.status_code == 500 and r.json() == {"detail": "internal error"}
    assert "Traceback" not in r.text and "secret" not in r.text
    assert any("internal error" in rec.getMessage() for rec in caplog.records)


def test_cors_is_closed_by_default_and_configurable(client, shared):
    headers = {"Origin": "http://evil.example"}
    assert "access-control-allow-origin" not in client.get("/healthz", headers=headers).headers
    settings, encoder = shared
    with client_for(settings.model_copy(update={"cors_origins": ["http://ui.example"]}), encoder) as c:
        ok = c.get("/healthz", headers={"Origin": "http://ui.example"})
        assert ok.headers["access-control-allow-origin"] == "http://ui.example"
        assert "access-control-allow-origin" not in c.get("/healthz", headers=headers).headers


def test_api_key(shared):
    settings, encoder = shared
    with client_for(settings.model_copy(update={"api_key": "s3cret"}), encoder) as c:
        assert c.get("/healthz").status_code == 200
        for path in ["/search?q=taxi", "/documents", "/documents/taxi/file", "/openapi.json"]:
            assert c.get(path).status_code == 401
            assert c.get(path, headers={"X-API-Key": "wrong"}).status_code == 401
            assert c.get(path, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/documents", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_questions_are_logged_only_to_the_audit_log(shared, tmp_path, caplog):
    settings, encoder = shared
    caplog.set_level(logging.DEBUG)
    with client_for(settings, encoder) as c:
        c.get("/search", params={"q": "private question about taxis"})
    assert "private question" not in caplog.text
    audit = tmp_path / "audit.jsonl"
    with client_for(settings.model_copy(update={"audit_log": audit}), encoder) as c:
        body = c.get("/search", params={"q": "taxi licensing", "k": 2}).json()
        c.get("/search", params={"q": "Shropshrie policy", "k": 2})
    record, corrected = (json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines())
    assert record["question"] == "taxi licensing" and record["time"] and "searched" not in record
    assert record["passages"] == [{"document": p["document"]["id"], "page": p["answer_page"]}
                                  for p in body["passages"]]
    assert corrected["question"] == "Shropshrie policy" and corrected["searched"] == "Shropshire policy"


# -- concurrency ---------------------------------------------------------------------------------
QUESTIONS = ["taxi licensing", "Multi-Agency Safeguarding Hub", "how many young people were at risk",
             "counselling support for victims", "councillor training e-learning", "what did Telford decide"]


def test_concurrent_requests_get_the_sequential_answers(client):
    requests = [("/search", {"q": q, "k": 3}) for q in QUESTIONS] + [
        ("/documents/taxi/pages/1.png", {"width": 200}), ("/documents/board/pages/2", {}), ("/documents", {})]
    sequential = [client.get(path, params=params).content for path, params in requests]
    jobs = requests * 6
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda job: client.get(job[0], params=job[1]), jobs))
    for (job, r) in zip(jobs, results):
        assert r.status_code == 200
        assert r.content == sequential[requests.index(job)]


def test_index_reader_is_safe_across_threads(shared):
    settings, encoder = shared
    searcher = Searcher(open_index(settings.index_dir, encoder.name, encoder.dimension), encoder)
    expected = [searcher.search(q, k=5).to_dict() for q in QUESTIONS]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda q: searcher.search(q, k=5).to_dict(), QUESTIONS * 10))
    assert got == expected * 10


# -- a real server with the real model -------------------------------------------------------
TELFORD = "telford-wrekin-2018-03-29-cabinet-tackling-cse-together.pdf"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVE_WITH_REAL_MODEL = """
import uvicorn

from api.app import create_app
from retriever.build import build_index
from retriever.encoder import SentenceTransformerEncoder
from retriever.settings import Settings

settings = Settings()
encoder = SentenceTransformerEncoder()  # loaded once: builds the index, then serves it
build_index([settings.corpus_dir], settings.index_dir, encoder)
uvicorn.run(create_app(settings, encoder), host=settings.host, port=settings.port, log_level="warning")
"""


@pytest.mark.model
def test_real_uvicorn_process_with_the_real_model(tmp_path):
    """A real uvicorn server on a free port, the packaged model, a 3-page slice of the Telford report."""
    import httpx

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    first_pages(REPO_ROOT / "corpus" / TELFORD, corpus / TELFORD, 3)
    (corpus / "reports.toml").write_text((REPO_ROOT / "corpus" / "reports.toml").read_text(encoding="utf-8"),
                                         encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "ONRECORD_INDEX_DIR": str(tmp_path / "index"), "ONRECORD_CORPUS_DIR": str(corpus),
           "ONRECORD_HOST": "127.0.0.1", "ONRECORD_PORT": str(port)}
    env.pop("ONRECORD_API_KEY", None)
    server = subprocess.Popen([sys.executable, "-c", SERVE_WITH_REAL_MODEL], cwd=REPO_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.stderr.read().decode(errors="replace")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.3)
        health = httpx.get(f"{base}/healthz").json()
        assert health["model"] == "all-MiniLM-L6-v2" and health["documents"] == 1 and health["chunks"] > 0
        r = httpx.get(f"{base}/search", params={"q": "what did Telford decide on taxi licensing"}, timeout=30)
        assert r.status_code == 200
        body = r.json()
        assert body["inferred"]["council"] == "Telford & Wrekin"
        assert_search_contract(body, 5)
        top = body["passages"][0]
        assert top["document"]["file"] == TELFORD and 1 <= top["answer_page"] <= 3
        image = httpx.get(base + top["page_image_url"], timeout=30)
        assert image.headers["content-type"] == "image/png" and png_size(image.content)[0] == 800
        pdf = httpx.get(base + top["url"].split("#")[0], timeout=30)
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
        assert httpx.get(f"{base}/search", params={"q": ""}).status_code == 422
        assert httpx.get(f"{base}/documents/..%2F..%2Fetc%2Fpasswd/file").status_code == 404
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_the_access_log_never_records_the_question():
    from api.middleware import DropQueryStrings

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/search?q=secret+question", "1.1", 200), None)
    assert DropQueryStrings().filter(record)
    assert "secret" not in record.getMessage() and "/search" in record.getMessage()


def test_requests_during_a_reingest_see_the_old_or_the_new_index_never_a_mix(built_index, corpus_dir, fake_encoder):
    import threading

    old, new = {"board", "taxi"}, {"board", "parks", "taxi"}
    seen, failures = [], []
    stop = threading.Event()
    with client_for(make_settings(built_index, corpus_dir), fake_encoder) as c:
        def hammer():
            while not stop.is_set():
                r = c.get("/documents")
                s = c.get("/search", params={"q": "oak trees safeguarding taxi", "k": 10})
                if r.status_code != 200 or s.status_code != 200:
                    failures.append((r.status_code, s.status_code))
                    continue
                seen.append(frozenset(d["id"] for d in r.json()["documents"]))
                seen.append(frozenset(p["document"]["id"] for p in s.json()["passages"]) | {"board", "taxi"})

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            write_pdf(corpus_dir / "parks.pdf", report_pages("Parks report", PARKS))
            build_index([corpus_dir], built_index, fake_encoder, SMALL_CHUNKS)
            deadline = time.monotonic() + 10
            while frozenset(new) not in seen and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join()
    assert not failures
    assert set(seen) <= {frozenset(old), frozenset(new)} and frozenset(new) in seen
