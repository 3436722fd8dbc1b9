"""Response (and request) models: what /openapi.json publishes is the HTTP contract (docs/http-contract.md)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

MAX_QUESTION = 1000
MAX_K = 50


class DocumentRef(BaseModel):
    id: str
    file: str
    title: str
    council: str
    date: str | None


class PageRange(BaseModel):
    page_start: int
    page_end: int


class Passage(BaseModel):
    rank: int
    score: float
    text: str = Field(description="verbatim text of the report")
    answer: str = Field(description="text[answer_start:answer_end]: the sentence that answers")
    answer_start: int
    answer_end: int
    page_start: int
    page_end: int
    answer_page: int = Field(description="the page that holds most of the answer")
    kind: str | None = Field(description='"decision" for a recorded decision, else null')
    also_on_pages: list[PageRange] = Field(description="near-identical passages of the same document elsewhere")
    document: DocumentRef
    url: str = Field(description="/documents/{id}/file#page={answer_page}")
    page_image_url: str = Field(description="/documents/{id}/pages/{answer_page}.png")


class Inferred(BaseModel):
    council: str | None = Field(description="council inferred from the question; infer=false switches it off")


class Expansion(BaseModel):
    term: str
    expansion: str


class Correction(BaseModel):
    typed: str = Field(description="a word of the question that no report holds and that is not an English word")
    suggested: str = Field(description="the word one edit away that the reports use most")


class Spelling(BaseModel):
    question: str = Field(description="the question with each correction made")
    corrections: list[Correction]
    searched: bool = Field(description="true: the passages answer this question, not the one typed "
                                       "(correct=false searches the words as typed)")


class SearchResponse(BaseModel):
    question: str
    answered: bool = Field(description="false when no passage answers with enough confidence")
    confidence: float = Field(description="how likely it is that the reports answer, 0-1 (the abstention model's "
                                          "probability); below the calibrated threshold, answered is false")
    inferred: Inferred
    expansions: list[Expansion]
    spelling: Spelling | None = Field(
        description="the question as the reports spell it, when a word of it looks like a slip")
    words: list[str] = Field(description="the question's words searched for, lower-cased, stop words left out; "
                                         "empty: the question names nothing to look for")
    missing_words: list[str] = Field(description="those of `words` that no report holds in any form search matches")
    passages: list[Passage]


class SearchRequest(BaseModel):
    q: str = Field(min_length=1, max_length=MAX_QUESTION, description="the question (not blank)")
    k: int = Field(5, ge=1, le=MAX_K)
    council: str | None = None
    document: str | None = Field(None, description="document id or file name")
    kind: str | None = Field(None, description='"decision" or null')
    infer: bool = True
    correct: bool = Field(True, description="false: search words that look like slips as typed")


class Document(BaseModel):
    id: str
    file: str
    title: str
    council: str
    council_full: str
    body: str
    date: str | None
    description: str
    page_count: int
    also_files: list[str] = Field(description="other file names with the same content")
    url: str = Field(description="/documents/{id}/file")


class DocumentList(BaseModel):
    documents: list[Document]


class Page(BaseModel):
    document_id: str
    page: int
    text: str
    page_count: int
    image_url: str
    url: str


class GlossaryTerm(BaseModel):
    term: str
    expansion: str
    quote: str = Field(description="the report's own words defining the term")
    page: int
    document: DocumentRef
    url: str


class Glossary(BaseModel):
    terms: list[GlossaryTerm]


class Health(BaseModel):
    status: Literal["ok"]
    documents: int
    chunks: int
    model: str
    built_at: str
    # "own": the archive's own abstention model (python -m eval.calibrate --save) serves; "built-in": the one
    # fitted for the model's family on the shipped question sets
    abstention: Literal["own", "built-in"]


class HealthUnavailable(BaseModel):
    status: Literal["no index", "starting"]
    detail: str


class Error(BaseModel):
    detail: str | list[dict[str, Any]]


ERRORS_422 = {422: {"model": Error, "description": "bad parameters (the detail says which and why)"}}
ERRORS_404 = {404: {"model": Error, "description": "unknown document or page"}}
ERRORS_503 = {503: {"model": Error, "description": "no index: run `onrecord ingest`"}}
