import pytest

from ingest.documents import parse_file
from ingest.model import UnreadableFile
from tests.pdf_fixtures import (report_pages, write_encrypted_pdf, write_image_only_pdf, write_pdf,
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
