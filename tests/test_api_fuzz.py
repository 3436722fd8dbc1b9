"""Fuzzing the API from its own OpenAPI schema (schemathesis), and injection-looking questions.

Bounded and deterministic: at most 50 generated examples per operation, derandomized, over
the tiny fake-encoder index. Every response must be a non-5xx that matches the schema.
"""
from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from api.app import create_app
from retriever.build import build_index
from retriever.settings import Settings
from tests.conftest import SMALL_CHUNKS, make_corpus
from tests.fakes import FakeEncoder

MAX_EXAMPLES = 50
KNOWN_DOCUMENTS = ("taxi", "board")


def _app(base):
    corpus = make_corpus(base / "corpus")
    encoder = FakeEncoder()
    build_index([corpus], base / "index", encoder, SMALL_CHUNKS)
    settings = Settings(index_dir=base / "index", corpus_dir=corpus, cors_origins=[], api_key=None, audit_log=None)
    return create_app(settings, encoder)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return _app(tmp_path_factory.mktemp("fuzz"))


# The schema comes from an app that is never started (creating one does no I/O); the cases are
# sent in-process to the module's app over the built index (schemathesis runs its lifespan).
schema = schemathesis.openapi.from_dict(create_app(Settings(index_dir="/nonexistent/onrecord-index"),
                                                   FakeEncoder()).openapi())


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_schema(app, case):
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    doc_id = (case.path_parameters or {}).get("doc_id")
    if doc_id is not None and len(doc_id) % 3:  # steer two cases in three to documents that exist
        case.path_parameters["doc_id"] = KNOWN_DOCUMENTS[len(doc_id) % 2]
    case.call_and_validate(app=app, checks=[not_a_server_error, response_schema_conformance])


INJECTIONS = [
    "' OR 1=1 --", "'; DROP TABLE chunks; --", "\") UNION SELECT * FROM documents --", "1; DELETE FROM pages",
    '"', '""', '"taxi', 'taxi"', "'", "*", "taxi*", "NEAR(taxi licensing)", "NEAR(", "taxi NEAR/2 licensing",
    "AND", "taxi AND", "OR OR OR", "NOT taxi", "taxi -licensing", "text:taxi", "heading : taxi", "{text heading}: taxi",
    "^taxi", "(taxi", "taxi)", "((((", "\\", "%", "_", "%00", "\x00", "taxi\x00licensing", "\x07\x08\x1b[2J",
    "\r\n\r\nHTTP/1.1 200 OK", "<script>alert(1)</script>", "${jndi:ldap://x}", "{{7*7}}", "../../etc/passwd",
    "\u202etaxi", "\ufeff", "\u200b", "名古屋の市議会", "Ωmega", "\U0001F695 taxi", "x" * 1000, "taxi " * 200,
    "e\u0301", "\ud7ff", "COUNT(*)",
]


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("q", INJECTIONS)
def test_injection_like_questions_are_answered_safely(client, q):
    r = client.get("/search", params={"q": q, "k": 3})
    assert r.status_code == 200, (q, r.status_code, r.text)
    body = r.json()
    assert body["question"] == q
    r = client.post("/search", json={"q": q, "k": 3})
    assert r.status_code == 200 and r.json() == body


@pytest.mark.parametrize("value", INJECTIONS[:30])
def test_injection_like_filters_are_refused_by_name(client, value):
    for field in ("council", "document", "kind"):
        r = client.get("/search", params={"q": "taxi", field: value})
        assert r.status_code == 422, (field, value, r.text)
    assert client.get("/glossary", params={"council": value}).status_code == 422


def test_the_index_survives_the_fuzzing(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["documents"] == 2
    assert client.get("/search", params={"q": "taxi licensing"}).json()["passages"][0]["document"]["id"] == "taxi"
