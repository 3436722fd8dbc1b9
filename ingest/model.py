"""The data that flows out of ingest: Page -> Chunk."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    """One cleaned page of a report; `number` is the file's own 1-based page number."""

    number: int
    text: str


@dataclass(frozen=True)
class PageSpan:
    """Where a piece of a chunk sits in one page's cleaned text (`text[start:end]`)."""

    page: int
    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: verbatim cleaned text, its heading, and the pages it covers."""

    ordinal: int
    text: str
    heading: str
    page_start: int
    page_end: int
    spans: tuple[PageSpan, ...]


@dataclass(frozen=True)
class ReportMeta:
    """What the corpus metadata file says about one report file."""

    file: str
    title: str
    council: str
    council_full: str = ""
    body: str = ""
    date: str = ""
    description: str = ""


class UnreadableFile(Exception):
    """A report file that cannot be read: the reason is for people, the suggestion says what to do."""

    def __init__(self, reason: str, suggestion: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.suggestion = suggestion

    def __str__(self) -> str:
        return f"{self.reason}; {self.suggestion}" if self.suggestion else self.reason
