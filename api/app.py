"""The HTTP API (docs/http-contract.md): cited passages for a question, documents, pages, glossary.

`create_app()` does no I/O and loads no model: the encoder is loaded and warmed up, and the
index opened, in the lifespan. The index is held by an IndexHolder, which switches to a new
build when `onrecord ingest` makes one current; with no usable index every index endpoint
answers 503 ("run `onrecord ingest`") and the holder tries again on later requests.

    uvicorn api.app:app          # or: python -m api
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timezone
from pathlib import Path as FilePath
from typing import Iterator
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api import schemas
from api.index_holder import IndexHolder
from api.middleware import ApiKeyMiddleware, ErrorMiddleware, LimitsMiddleware, quiet_access_log
from api.pages import DEFAULT_WIDTH, MAX_WIDTH, MIN_WIDTH, CorpusFiles, PageRenderer, PageUnavailable, media_type
from retriever.question_form import shipped_question_form
from retriever.search import Searcher, SearchResult, UnknownFilter
from retriever.settings import Settings
from retriever.spelling import english_words
from retriever.store import DocumentRecord, IndexUnavailable

log = logging.getLogger("onrecord.api")

NO_INDEX_DETAIL = ("no usable index: run `onrecord ingest` to build it "
                   "(`onrecord ingest --rebuild` if it was built with another model or format)")
STARTING_DETAIL = "OnRecord is starting up: try again in a moment"
MAX_PAGE = 100_000


# -- URLs -----------------------------------------------------------------------------------
def document_url(doc_id: str) -> str:
    return f"/documents/{quote(doc_id, safe='')}/file"


def page_url(doc_id: str, page: int) -> str:
    return f"{document_url(doc_id)}#page={page}"


def page_image_url(doc_id: str, page: int) -> str:
    return f"/documents/{quote(doc_id, safe='')}/pages/{page}.png"


def document_ref(doc: DocumentRecord) -> dict:
    return {"id": doc.id, "file": doc.file, "title": doc.title, "council": doc.council, "date": doc.date}


def document_json(doc: DocumentRecord) -> dict:
    return {**document_ref(doc), "council_full": doc.council_full, "body": doc.body,
            "description": doc.description, "page_count": doc.page_count, "also_files": list(doc.also_files),
            "url": document_url(doc.id)}


def search_json(result: SearchResult) -> dict:
    body = result.to_dict()
    for passage in body["passages"]:
        doc_id, page = passage["document"]["id"], passage["answer_page"]
        passage["url"] = page_url(doc_id, page)
        passage["page_image_url"] = page_image_url(doc_id, page)
    return body


class AuditLog:
    """One JSON line per search (time, question, filters, cited document/page; the question searched when a slip
    was corrected), only when switched on."""

    def __init__(self, path: FilePath):
        self.path = path
        self._lock = threading.Lock()

    def record(self, question: str, filters: dict, result: SearchResult) -> None:
        line = json.dumps({"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                           "question": question, **filters,
                           **({"searched": result.suggestion.question} if result.suggestion_searched else {}),
                           "passages": [{"document": p.document.id, "page": p.answer_page} for p in result.passages]},
                          ensure_ascii=False)
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            log.error("audit log %s not writable: %s", self.path, exc)


# -- the app --------------------------------------------------------------------------------
def create_app(settings: Settings | None = None, encoder=None, *, reload_interval: float = 1.0) -> FastAPI:
    """The API; `encoder` replaces the packaged model (tests pass a fake). No I/O happens here."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        quiet_access_log()
        if encoder is not None:
            def encoder_for(build):
                return encoder
        else:
            from retriever.index_model import PackagedModels, encoder_for_build

            models = PackagedModels.from_settings(settings)

            def encoder_for(build):
                return encoder_for_build(settings.index_dir, build, models)
        holder = IndexHolder(settings.index_dir, encoder_for, check_interval=reload_interval)
        await run_in_threadpool(holder.refresh)
        if holder.build is not None:  # load the model now, not on the first question
            await run_in_threadpool(holder.searcher().encoder.encode, ["warm up"])
        await run_in_threadpool(english_words)  # and the spelling's word list
        await run_in_threadpool(shipped_question_form)  # and the question form's counts (abstention)
        app.state.files = CorpusFiles(settings.corpus_dir)
        app.state.renderer = PageRenderer()
        app.state.audit = AuditLog(settings.audit_log) if settings.audit_log else None
        app.state.holder = holder
        try:
            yield
        finally:
            app.state.holder = None

    app = FastAPI(title="OnRecord", version="0.1.0", lifespan=lifespan,
                  description="Cited passages from council reports. It never generates text: every word it "
                              "returns is a word of a report, with its document and page.")
    app.state.holder = None

    # Outermost last: errors -> CORS -> size limits -> API key -> routes.
    if settings.api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key)
    app.add_middleware(LimitsMiddleware)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "X-API-Key", "Authorization"])
    app.add_middleware(ErrorMiddleware)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("loc", ("",))[0] == "path" for e in errors):
            # A malformed document id or page number names nothing that exists.
            return JSONResponse({"detail": "not found: no such document or page"}, status_code=404)
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
        return JSONResponse({"detail": detail}, status_code=422)

    # -- helpers over app.state -------------------------------------------------------------
    def searcher_for(request: Request) -> Searcher:
        holder: IndexHolder | None = request.app.state.holder
        if holder is None:
            raise HTTPException(503, STARTING_DETAIL)
        try:
            return holder.searcher()
        except IndexUnavailable:
            raise HTTPException(503, NO_INDEX_DETAIL) from None

    @contextmanager
    def index_errors(request: Request) -> Iterator[None]:
        """A database error mid-request (a build removed under us, a damaged file): 503, look again next time."""
        try:
            yield
        except sqlite3.Error as exc:
            log.error("index read failed on %s: %s", request.url.path, exc)
            holder = request.app.state.holder
            if holder is not None:
                holder.expire()
            raise HTTPException(503, NO_INDEX_DETAIL) from None

    def find_document(searcher: Searcher, doc_id: str) -> DocumentRecord:
        doc = searcher.index.documents.get(doc_id)
        if doc is None:
            raise HTTPException(404, f"no document {doc_id[:100]!r}: GET /documents lists them")
        return doc

    def run_search(request: Request, q: str, k: int, council: str | None, document: str | None,
                   kind: str | None, infer: bool, correct: bool = True) -> dict:
        if not q.strip():
            raise HTTPException(422, "q is empty: ask a question")
        searcher = searcher_for(request)
        with index_errors(request):
            try:
                result = searcher.search(q, k=k, council=council or None, document=document or None,
                                         kind=kind or None, infer=infer, correct=correct)
            except UnknownFilter as exc:
                raise HTTPException(422, str(exc)) from None
        audit: AuditLog | None = request.app.state.audit
        if audit is not None:
            audit.record(q, {"council": council, "document": document, "kind": kind}, result)
        return search_json(result)

    # -- endpoints ------------------------------------------------------------------------------
    search_responses = {**schemas.ERRORS_422, **schemas.ERRORS_503}

    @app.get("/search", response_model=schemas.SearchResponse, responses=search_responses, tags=["search"])
    def search_get(request: Request,
                   q: str = Query(min_length=1, max_length=schemas.MAX_QUESTION, description="the question"),
                   k: int = Query(5, ge=1, le=schemas.MAX_K, description="how many passages"),
                   council: str | None = Query(None, description="council short or full name"),
                   document: str | None = Query(None, description="document id or file name"),
                   kind: str | None = Query(None, description='"decision": only recorded decisions'),
                   infer: bool = Query(True, description="false: do not infer a council from the question"),
                   correct: bool = Query(True, description="false: search words that look like slips as typed")):
        """Passages of the reports that answer the question, each cited by document and page."""
        return run_search(request, q, k, council, document, kind, infer, correct)

    @app.post("/search", response_model=schemas.SearchResponse, responses=search_responses, tags=["search"])
    def search_post(request: Request, body: schemas.SearchRequest):
        """The same as GET /search, for long questions."""
        return run_search(request, body.q, body.k, body.council, body.document, body.kind, body.infer,
                          body.correct)

    @app.get("/documents", response_model=schemas.DocumentList, responses=schemas.ERRORS_503, tags=["documents"])
    def documents(request: Request):
        """Every indexed document with its metadata and page count."""
        searcher = searcher_for(request)
        return {"documents": [document_json(d) for d in searcher.index.documents.values()]}

    @app.get("/documents/{doc_id}", response_model=schemas.Document,
             responses={**schemas.ERRORS_404, **schemas.ERRORS_503}, tags=["documents"])
    def document(request: Request, doc_id: str):
        """One document's metadata."""
        return document_json(find_document(searcher_for(request), doc_id))

    # Declared before /pages/{n} so that "3.png" is not taken for a page number.
    @app.get("/documents/{doc_id}/pages/{n}.png", response_class=Response, tags=["documents"],
             responses={200: {"content": {"image/png": {}}, "description": "the page as a PNG image"},
                        **schemas.ERRORS_404, **schemas.ERRORS_422, **schemas.ERRORS_503})
    def page_image(request: Request, doc_id: str, n: int = Path(ge=1, le=MAX_PAGE),
                   width: int = Query(DEFAULT_WIDTH, ge=MIN_WIDTH, le=MAX_WIDTH, description="pixels")):
        """Page n of the document rendered as a PNG `width` pixels wide."""
        doc = find_document(searcher_for(request), doc_id)
        path = request.app.state.files.locate(doc)
        if path is None:
            raise HTTPException(404, f"the file of document {doc.id!r} is not in the corpus folder")
        try:
            data = request.app.state.renderer.png(path, n, width)
        except PageUnavailable as exc:
            raise HTTPException(404, f"no page {n} image for document {doc.id!r}: {exc}") from None
        except OSError:
            raise HTTPException(404, f"the file of document {doc.id!r} cannot be read") from None
        return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

    @app.get("/documents/{doc_id}/pages/{n}", response_model=schemas.Page,
             responses={**schemas.ERRORS_404, **schemas.ERRORS_503}, tags=["documents"])
    def page(request: Request, doc_id: str, n: int = Path(ge=1, le=MAX_PAGE)):
        """The text of page n of the document, as indexed."""
        searcher = searcher_for(request)
        doc = find_document(searcher, doc_id)
        with index_errors(request):
            text = searcher.index.page_text(doc.id, n)
        if text is None:
            raise HTTPException(404, f"document {doc.id!r} has no page {n} (it has {doc.page_count})")
        return {"document_id": doc.id, "page": n, "text": text, "page_count": doc.page_count,
                "image_url": page_image_url(doc.id, n), "url": page_url(doc.id, n)}

    @app.get("/documents/{doc_id}/file", response_class=FileResponse, tags=["documents"],
             responses={200: {"content": {"application/pdf": {}}, "description": "the report file itself"},
                        **schemas.ERRORS_404, **schemas.ERRORS_503})
    def document_file(request: Request, doc_id: str):
        """The report file itself (a PDF, application/pdf): link to `.../file#page=N`."""
        doc = find_document(searcher_for(request), doc_id)
        path = request.app.state.files.locate(doc)
        if path is None:
            raise HTTPException(404, f"the file of document {doc.id!r} is not in the corpus folder")
        return FileResponse(path, media_type=media_type(path), filename=path.name,
                            content_disposition_type="inline")

    @app.get("/glossary", response_model=schemas.Glossary,
             responses={**schemas.ERRORS_422, **schemas.ERRORS_503}, tags=["documents"])
    def glossary(request: Request, council: str | None = Query(None, description="only this council's reports")):
        """Acronyms as the reports define them, each with the defining words and their page."""
        searcher = searcher_for(request)
        try:
            allowed = searcher.resolve_filters(council or None, None)
        except UnknownFilter as exc:
            raise HTTPException(422, str(exc)) from None
        index = searcher.index
        terms = [t for t in index.terms if allowed is None or t.doc_id in allowed]
        terms.sort(key=lambda t: (t.term.casefold(), t.doc_id, t.page))
        return {"terms": [{"term": t.term, "expansion": t.expansion, "quote": t.quote, "page": t.page,
                           "document": document_ref(index.documents[t.doc_id]), "url": page_url(t.doc_id, t.page)}
                          for t in terms if t.doc_id in index.documents]}

    @app.get("/healthz", response_model=schemas.Health, tags=["health"],
             responses={503: {"model": schemas.HealthUnavailable, "description": "no index (or starting up)"}})
    def healthz(request: Request):
        """Status, number of documents and chunks, model, and when the index was built."""
        holder: IndexHolder | None = request.app.state.holder
        if holder is None:
            return JSONResponse({"status": "starting", "detail": STARTING_DETAIL}, status_code=503)
        try:
            searcher = holder.searcher()
        except IndexUnavailable:
            return JSONResponse({"status": "no index", "detail": NO_INDEX_DETAIL}, status_code=503)
        index = searcher.index
        return {"status": "ok", "documents": len(index.documents), "chunks": index.chunk_count,
                "model": str(index.manifest.get("model", "")), "built_at": str(index.manifest.get("built_at", "")),
                "abstention": "own" if searcher.uses_own_calibration else "built-in"}

    return app


app = create_app()
