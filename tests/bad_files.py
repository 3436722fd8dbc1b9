"""Bad report files for ingest, written from text on demand (no binary blobs in the repository).

Each case is a file name, how ingest must treat it, and the words its report must hold:

    outcome "skipped"   - reported by name with `reason` (and `suggestion`), nothing indexed
    outcome "indexed"   - indexed as a document
    outcome "partial"   - indexed, its good pages kept, a warning names each of `bad_pages`
    outcome "duplicate" - same bytes as `duplicate_of`: indexed once, both names listed

`write_bad_files(folder)` writes them all and returns the cases; `python -m tests.bad_files DIR`
writes them into DIR to try by hand (`onrecord ingest DIR`).
"""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tests.pdf_fixtures import (pdf_bytes, report_pages, write_encrypted_pdf, write_image_only_pdf, write_pdf,
                                write_truncated_pdf)

HUGE_PAGES = 400


@dataclass(frozen=True)
class Case:
    name: str
    outcome: str
    write: Callable[[Path], object]
    reason: str = ""
    suggestion: str = ""
    bad_pages: tuple[int, ...] = ()
    duplicate_of: str = ""
    words: str = ""  # a phrase only this file holds, to find it in the index


_SENTENCES = (
    "The Committee considered the report on {topic} and the evidence that officers gave.",
    "Members agreed that the council should publish its plan for {topic} by the end of the year.",
    "The Director was asked to report back to the next meeting with the costs and the risks.",
    "Residents told the panel that {topic} mattered to them more than any other service.",
    "A consultation on {topic} ran for twelve weeks and drew four hundred responses.",
    "The Cabinet Member for {topic} thanked the officers for their work over the winter.",
    "Funding for {topic} will be reviewed when the budget is set in February.",
    "The scrutiny panel recommends that {topic} is monitored every six months.",
)


def _pages(topic: str, n: int = 3) -> list[list[str]]:
    """A small, distinct report about `topic`: each page's sentences differ, so none is taken for a running line."""
    bodies = [[f"Part {'ABCDEFGH'[i]}: {topic}", *(_SENTENCES[(i + j) % len(_SENTENCES)].format(topic=topic)
                                                for j in range(0, len(_SENTENCES), 2) if (i + j) % 3 != 2)]
              for i in range(n)]
    return report_pages(f"Report on {topic}", bodies)


def _corrupt(path: Path) -> None:
    rnd = random.Random(7)  # a PDF header, then noise
    path.write_bytes(b"%PDF-1.4\n" + bytes(rnd.randrange(256) for _ in range(4000)))


def _html(path: Path) -> None:
    path.write_text("<!DOCTYPE html>\n<html><head><title>Agenda item 7 - Report</title></head>\n"
                    "<body><p>Download the report <a href='report.pdf'>here</a>.</p></body></html>\n",
                    encoding="utf-8")


def write_huge_pdf(path: Path) -> None:
    """HUGE_PAGES pages of distinct text, written in well under a second."""
    words = ("highways", "bridges", "schools", "libraries", "parks", "housing", "drainage", "lighting", "depots")
    bodies = [[f"Appendix {n}: scheme {words[n % 9]} and {words[(n * 7) % 9]}",
               *(f"Line {j}: the capital programme for {words[(n + j) % 9]} in ward {n * 16 + j} was reviewed "
                 f"against {words[(n * j) % 9]} spending." for j in range(1, 16))]
              for n in range(1, HUGE_PAGES + 1)]
    path.write_bytes(pdf_bytes(report_pages("Capital Programme 2024-2028", bodies)))


def _broken_page(path: Path) -> None:
    pages = _pages("library opening hours", 4)
    pages[1] = [*pages[1], "This page's content is lost."]
    pages[3] = [*pages[3], "So is this one's."]
    path.write_bytes(pdf_bytes(pages, broken={2: "missing-object", 4: "bad-filter"}))


def mojibake(text: str) -> str:
    """What a subset font without a text map gives out: each glyph code is the character's code minus 29."""
    return "".join(chr(max(ord(c) - 29, 1)) for c in text)


def caesar(text: str, shift: int = 3) -> str:
    """A custom font encoding that maps each letter to another: letters, spaces, but no words."""
    def move(c: str) -> str:
        if c.isascii() and c.isalpha():
            base = ord("a") if c.islower() else ord("A")
            return chr(base + (ord(c) - base + shift) % 26)
        return c
    return "".join(map(move, text))


def _garbled(scramble: Callable[[str], str]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        pages = [[scramble(line) for line in page] for page in _pages("waste collection rounds", 3)]
        path.write_bytes(pdf_bytes(pages))
    return write


def _duplicate(path: Path) -> None:
    write_pdf(path, _pages("street lighting"))


CASES: tuple[Case, ...] = (
    Case("corrupt.pdf", "skipped", _corrupt, "corrupt", "fresh copy"),
    Case("truncated.pdf", "skipped", lambda p: write_truncated_pdf(p, _pages("truncation")), "corrupt or truncated",
         "fresh copy"),
    Case("locked.pdf", "skipped", lambda p: write_encrypted_pdf(p, _pages("locked files"), user_password="s3cret"),
         "password", "without a password"),
    Case("protected but open.pdf", "indexed",
         lambda p: write_encrypted_pdf(p, _pages("allotment rents"), user_password=""), words="allotment rents"),
    Case("empty.pdf", "skipped", lambda p: p.write_bytes(b""), "empty file", "full report"),
    Case("scan.pdf", "skipped", lambda p: write_image_only_pdf(p, 3), "no text layer", "OCR it first"),
    Case("capital programme (400 pages).pdf", "indexed", write_huge_pdf, words="capital programme"),
    Case("minutes with broken pages.pdf", "partial", _broken_page, "could not be read", bad_pages=(2, 4),
         words="library opening hours"),
    Case("agenda item 7.pdf", "skipped", _html, "web page (HTML)", "download the PDF itself"),
    Case("Rapport é ü 報告.pdf", "indexed", lambda p: write_pdf(p, _pages("bridge maintenance")),
         words="bridge maintenance"),
    Case("Budget 2024 (final) v2 [draft] #3 & co.pdf", "indexed", lambda p: write_pdf(p, _pages("parking permits")),
         words="parking permits"),
    Case("street lighting.pdf", "indexed", _duplicate, words="street lighting"),
    Case("street lighting - copy.pdf", "duplicate", _duplicate, duplicate_of="street lighting.pdf"),
    Case("mojibake.pdf", "skipped", _garbled(mojibake), "text layer looks garbled", "OCR it first"),
    Case("cipher font.pdf", "skipped", _garbled(caesar), "text layer looks garbled", "OCR it first"),
)


def write_bad_files(folder: Path) -> tuple[Case, ...]:
    folder.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        case.write(folder / case.name)
    return CASES


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "bad-files")
    for case in write_bad_files(target):
        print(f"{case.outcome:9} {target / case.name}")
