import multiprocessing
import os
import time

import pytest

from ingest import readers
from ingest.documents import parse_file
from ingest.model import UnreadableFile
from ingest.readers import read_raw_pages
from tests.pdf_fixtures import (pdf_bytes, report_pages, write_encrypted_pdf, write_image_only_pdf, write_pdf,
                                write_truncated_pdf)

PAGES = report_pages("Report", [["The Council agreed to act on taxi licensing."], ["Second page text here."]])


def test_pdf_pages_are_numbered_from_one(tmp_path):
    parsed = parse_file(write_pdf(tmp_path / "ok.pdf", PAGES))
    assert [p.number for p in parsed.pages] == [1, 2]
    assert "taxi licensing" in parsed.pages[0].text
    assert "Page 1 of 2" not in parsed.pages[0].text


@pytest.mark.parametrize("maker, reason", [
    (lambda p: write_truncated_pdf(p, PAGES), "corrupt or truncated"),
    (lambda p: write_encrypted_pdf(p, PAGES), "encrypted"),
    (lambda p: write_image_only_pdf(p), "no text layer"),
    (lambda p: (p.write_bytes(b""), p)[1], "empty file"),
    (lambda p: (p.write_bytes(b"<html>not a pdf</html>"), p)[1], "not a PDF"),
])
def test_unreadable_pdfs_say_why(tmp_path, maker, reason):
    path = maker(tmp_path / "bad.pdf")
    with pytest.raises(UnreadableFile) as err:
        parse_file(path)
    assert reason in str(err.value)


def test_scan_suggests_ocr(tmp_path):
    with pytest.raises(UnreadableFile) as err:
        parse_file(write_image_only_pdf(tmp_path / "scan.pdf"))
    assert "OCR" in err.value.suggestion


def test_encrypted_with_empty_user_password_is_read(tmp_path):
    parsed = parse_file(write_encrypted_pdf(tmp_path / "open.pdf", PAGES, user_password=""))
    assert "taxi licensing" in parsed.pages[0].text


def test_text_file_form_feed_marks_pages(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("First page words.\fSecond page words.\fThird.", encoding="utf-8")
    parsed = parse_file(path)
    assert [p.text for p in parsed.pages] == ["First page words.", "Second page words.", "Third."]


# A long PDF is read by several processes; each page must come out as a one-process read gives it.
TOPICS = ("highways", "bridges", "schools", "libraries", "parks", "housing", "drainage", "lighting", "depots")
LONG = report_pages("Capital programme", [
    [f"Scheme {n}: {TOPICS[n % 9]} and {TOPICS[n * 7 % 9]}",
     f"The panel reviewed {TOPICS[(n + 3) % 9]} spending in ward {n * 13} against the {TOPICS[n * 5 % 9]} budget."]
    for n in range(1, 25)])


def _spy_parallel(monkeypatch) -> list[int]:
    """Count the reads that took the parallel path, so a test cannot pass by reading in one process."""
    calls: list[int] = []
    real = readers._extract_in_parallel

    def spy(path, page_objects, shares):
        calls.append(len(shares))
        return real(path, page_objects, shares)
    monkeypatch.setattr(readers, "_extract_in_parallel", spy)
    return calls


def test_parallel_read_equals_one_process_read(tmp_path, monkeypatch):
    path = write_pdf(tmp_path / "long.pdf", LONG)
    one = read_raw_pages(path, workers=1)
    calls = _spy_parallel(monkeypatch)
    assert read_raw_pages(path, workers=2) == one
    assert parse_file(path, workers=3) == parse_file(path)
    assert calls == [2, 3]


def test_parallel_read_warns_about_each_broken_page(tmp_path, monkeypatch):
    path = tmp_path / "broken.pdf"
    path.write_bytes(pdf_bytes(LONG, broken={2: "missing-object", 13: "bad-filter", 23: "bad-filter"}))
    one = read_raw_pages(path, workers=1)
    calls = _spy_parallel(monkeypatch)
    pages, warnings = read_raw_pages(path, workers=2)
    assert (pages, warnings) == one and calls == [2]
    assert [w.split(" could not be read")[0] for w in warnings] == ["page 2", "page 13", "page 23"]
    assert pages[1] == pages[12] == pages[22] == ""


def test_parallel_read_opens_an_unprotected_encrypted_pdf(tmp_path, monkeypatch):
    path = write_encrypted_pdf(tmp_path / "open.pdf", LONG, user_password="")
    one = read_raw_pages(path, workers=1)
    calls = _spy_parallel(monkeypatch)
    assert read_raw_pages(path, workers=2) == one and calls == [2]


def test_short_pdf_is_read_in_this_process(tmp_path, monkeypatch):
    path = write_pdf(tmp_path / "short.pdf", LONG[:9])
    calls = _spy_parallel(monkeypatch)
    read_raw_pages(path, workers=4)
    assert calls == []
    assert readers._shares(9, 4) == [list(range(1, 10))]
    assert readers._shares(10, 2) == [[1, 3, 5, 7, 9], [2, 4, 6, 8, 10]]


def _crash(path, numbers, conn):
    os._exit(3)


def _fail(path, numbers, conn):
    conn.send(("error", "RuntimeError: boom"))


def _stall(path, numbers, conn):
    time.sleep(60)


@pytest.mark.parametrize("worker, why", [(_crash, "exit code 3"), (_fail, "boom"), (_stall, "in time")])
def test_failed_worker_pages_are_read_here(tmp_path, monkeypatch, caplog, worker, why):
    path = tmp_path / "broken.pdf"
    path.write_bytes(pdf_bytes(LONG, broken={2: "missing-object"}))
    one = read_raw_pages(path, workers=1)
    monkeypatch.setattr(readers, "_worker", worker)
    monkeypatch.setattr(readers, "WORKER_GRACE_SECONDS", 0.5)
    started = time.monotonic()
    assert read_raw_pages(path, workers=2) == one
    assert time.monotonic() - started < 10
    assert why in caplog.text and "reading its 12 pages here instead" in caplog.text
    assert not multiprocessing.active_children()


def test_spawned_workers_read_the_same(tmp_path, monkeypatch):
    """Where fork is not used (macOS, Windows) the worker is started afresh and must import and read alike."""
    path = write_pdf(tmp_path / "long.pdf", LONG)
    one = read_raw_pages(path, workers=1)
    monkeypatch.setattr(readers, "_context", lambda: multiprocessing.get_context("spawn"))
    assert read_raw_pages(path, workers=2) == one
