"""A folder of bad report files (tests/bad_files.py) beside two good ones: each bad file is reported
by name with a plain reason and what to do, and everything that can be indexed is."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ingest.documents import parse_file
from ingest.model import UnreadableFile
from ingest.quality import judge
from retriever import cli
from retriever.build import build_index
from retriever.search import Searcher
from retriever.settings import Settings
from retriever.store import open_index
from tests.bad_files import CASES, HUGE_PAGES, caesar, mojibake, write_bad_files
from tests.conftest import REPO_ROOT, make_corpus
from tests.fakes import FakeEncoder, FakeModels
from tests.pdf_fixtures import report_pages, write_pdf

BY_NAME = {c.name: c for c in CASES}
SKIPPED = [c for c in CASES if c.outcome == "skipped"]
INDEXED = [c for c in CASES if c.outcome in ("indexed", "partial")]


@pytest.fixture(scope="module")
def bad_corpus(tmp_path_factory) -> Path:
    folder = make_corpus(tmp_path_factory.mktemp("bad") / "corpus")
    write_bad_files(folder)
    return folder


@pytest.fixture(scope="module")
def ingested(bad_corpus, tmp_path_factory):
    """(summary, index, encoder) after one build over the good and the bad files."""
    encoder = FakeEncoder()
    root = tmp_path_factory.mktemp("bad-index")
    summary = build_index([bad_corpus], root, encoder)
    return summary, open_index(root, encoder.name, encoder.dimension), encoder, root


def _doc_for(index, file_name):
    matches = [d for d in index.documents.values() if d.file == file_name or file_name in d.also_files]
    assert len(matches) == 1, (file_name, matches)
    return matches[0]


def test_every_bad_file_is_reported_by_name_with_reason_and_suggestion(ingested):
    summary, *_ = ingested
    reported = {s.file: s.reason for s in summary.skipped}
    assert set(reported) == {c.name for c in SKIPPED}
    for case in SKIPPED:
        assert case.reason in reported[case.name], case.name
        assert case.suggestion in reported[case.name], case.name
        assert "Traceback" not in reported[case.name] and len(reported[case.name]) < 200


def test_everything_readable_is_indexed(ingested):
    summary, index, *_ = ingested
    files = {d.file for d in index.documents.values()}
    assert files == {"taxi.pdf", "board.pdf", *(c.name for c in INDEXED)}
    assert summary.documents == len(files) and not (summary.skipped and summary.documents == 0)
    for case in INDEXED:
        doc = _doc_for(index, case.name)
        text = " ".join(index.page_text(doc.id, n) or "" for n in range(1, min(doc.page_count, 3) + 1))
        assert case.words in text.lower(), case.name


def test_an_empty_password_pdf_is_read(ingested):
    _, index, *_ = ingested
    doc = _doc_for(index, "protected but open.pdf")
    assert doc.page_count == 3 and "allotment rents" in index.page_text(doc.id, 1)


def test_good_pages_of_a_file_with_broken_pages_are_kept_and_the_bad_ones_named(ingested):
    summary, index, *_ = ingested
    case = BY_NAME["minutes with broken pages.pdf"]
    doc = _doc_for(index, case.name)
    assert doc.page_count == 4
    assert {n for n in range(1, 5) if index.page_text(doc.id, n)} == {1, 3}
    for page in case.bad_pages:
        assert any(w.startswith(f"{case.name}: page {page} could not be read") and "other pages are kept" in w
                   for w in summary.warnings), (page, summary.warnings)
    chunk_pages = {c.page_start for c in index.chunks(list(map(int, index.chunk_ids_for_documents([doc.id])))).values()}
    assert chunk_pages and chunk_pages <= {1, 3}


def test_duplicates_are_indexed_once_and_both_names_listed(ingested):
    summary, index, *_ = ingested
    copies = [d for d in index.documents.values() if "street lighting" in d.title.lower()]
    assert len(copies) == 1
    assert (copies[0].file, copies[0].also_files) == ("street lighting.pdf", ("street lighting - copy.pdf",))
    assert ("street lighting.pdf", "street lighting - copy.pdf") in summary.duplicates


def test_the_huge_file_is_indexed_to_its_last_page(ingested):
    _, index, *_ = ingested
    doc = _doc_for(index, "capital programme (400 pages).pdf")
    assert doc.page_count == HUGE_PAGES
    assert f"ward {HUGE_PAGES * 16 + 15}" in index.page_text(doc.id, HUGE_PAGES)
    hits = index.lexical_search([str(HUGE_PAGES * 16 + 15)], 5)
    assert [index.chunks([hits[0][0]])[hits[0][0]].page_end] == [HUGE_PAGES]


def test_odd_names_are_searchable_and_served(ingested, bad_corpus):
    _, index, encoder, root = ingested
    searcher = Searcher(index, encoder)
    settings = Settings(index_dir=root, corpus_dir=bad_corpus, cors_origins=[], api_key=None, audit_log=None)
    with TestClient(create_app(settings, encoder, reload_interval=0)) as client:
        for name, words in [("Rapport é ü 報告.pdf", "bridge maintenance"),
                            ("Budget 2024 (final) v2 [draft] #3 & co.pdf", "parking permits")]:
            doc = _doc_for(index, name)
            top = searcher.search(f"{words} consultation", k=3, document=name).passages[0]
            assert top.document.file == name
            body = client.get("/search", params={"q": f"{words} consultation", "document": doc.id}).json()
            url = body["passages"][0]["url"].split("#")[0]
            served = client.get(url)
            assert served.status_code == 200 and served.content == (bad_corpus / name).read_bytes()
            assert quote(doc.id, safe="-") == doc.id  # ids are plain ASCII, safe in URLs


def test_cli_ingest_reports_each_bad_file_and_exits_zero(bad_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ONRECORD_INDEX_DIR", str(tmp_path / "idx"))
    monkeypatch.setattr(cli, "_models", lambda settings: FakeModels())
    assert cli.main(["ingest", str(bad_corpus)]) == 0
    out, err = capsys.readouterr()
    for case in SKIPPED:
        assert f"skipped {case.name}: " in err, case.name
    for case in INDEXED:
        assert f"read {case.name}: " in err, case.name
    assert "warning: minutes with broken pages.pdf: page 2 could not be read" in err
    assert "duplicate: street lighting - copy.pdf has the same content as street lighting.pdf; indexed once" in err
    expected = 2 + len(INDEXED)
    assert f"{expected} documents" in out and f"{len(SKIPPED)} skipped" in out
    # a second run changes nothing and still names the bad files
    assert cli.main(["ingest", str(bad_corpus)]) == 0
    out, err = capsys.readouterr()
    assert "Index up to date" in out and "skipped scan.pdf: no text layer" in err


def test_a_bad_file_that_replaces_a_good_one_keeps_the_good_version(tmp_path):
    folder = make_corpus(tmp_path / "corpus")
    encoder = FakeEncoder()
    build_index([folder], tmp_path / "idx", encoder)
    (folder / "board.pdf").write_bytes(b"")
    summary = build_index([folder], tmp_path / "idx", encoder)
    assert [s.file for s in summary.skipped] == ["board.pdf"]
    assert "board.pdf: the version indexed before is kept" in summary.warnings
    assert "board" in open_index(tmp_path / "idx", encoder.name, encoder.dimension).documents


# -- names that collide ----------------------------------------------------------------------------
def _report(topic):
    return report_pages(f"Report on {topic}", [[f"The panel discussed {topic} at length, part {n}."] for n in "ABC"])


def test_names_that_map_to_one_id_get_distinct_ids(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_pdf(folder / "Report X.pdf", _report("ferries"))
    write_pdf(folder / "report-x.pdf", _report("canals"))
    write_pdf(folder / "REPORT_X.pdf", _report("tramways"))
    encoder = FakeEncoder()
    summary = build_index([folder], tmp_path / "idx", encoder)
    index = open_index(tmp_path / "idx", encoder.name, encoder.dimension)
    assert summary.documents == 3 and not summary.skipped
    assert {d.id: d.file for d in index.documents.values()} == {
        "report-x": "REPORT_X.pdf", "report-x-2": "Report X.pdf", "report-x-3": "report-x.pdf"}
    # ids are stable across runs: a new clashing file takes a new suffix, the others keep theirs
    write_pdf(folder / "report x.pdf", _report("monorails"))
    (folder / "REPORT_X.pdf").unlink()
    summary = build_index([folder], tmp_path / "idx", encoder)
    index = open_index(tmp_path / "idx", encoder.name, encoder.dimension)
    assert summary.added == ("report x.pdf",) and summary.removed == ("REPORT_X.pdf",)
    assert {d.id: d.file for d in index.documents.values()} == {
        "report-x": "report x.pdf", "report-x-2": "Report X.pdf", "report-x-3": "report-x.pdf"}


def test_same_name_in_two_sub_folders_is_a_reported_conflict_not_a_crash(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "2023").mkdir(parents=True)
    (folder / "2024").mkdir()
    write_pdf(folder / "2023" / "budget.pdf", _report("the 2023 budget"))
    write_pdf(folder / "2024" / "budget.pdf", _report("the 2024 budget"))
    write_pdf(folder / "2024" / "minutes.pdf", _report("minutes"))
    (folder / "2023" / "minutes.pdf").write_bytes((folder / "2024" / "minutes.pdf").read_bytes())  # same content
    encoder = FakeEncoder()
    summary = build_index([folder], tmp_path / "idx", encoder)
    assert [(s.file, s.reason) for s in summary.skipped] == [
        ("2024/budget.pdf", "name conflict: a different file with the same name (2023/budget.pdf) is already "
                            "indexed; rename one of them")]
    index = open_index(tmp_path / "idx", encoder.name, encoder.dimension)
    assert {d.file: d.also_files for d in index.documents.values()} == {"budget.pdf": (), "minutes.pdf": ()}
    assert "2023 budget" in index.page_text("budget", 1)
    # the file indexed first keeps the name on later runs, even when it sorts after the other
    (folder / "2023" / "budget.pdf").rename(folder / "2023" / "zz-old-budget.pdf")
    build_index([folder], tmp_path / "idx", encoder)
    write_pdf(folder / "2023" / "budget.pdf", _report("a third budget"))
    summary = build_index([folder], tmp_path / "idx", encoder)
    index = open_index(tmp_path / "idx", encoder.name, encoder.dimension)
    assert [s.file for s in summary.skipped] == ["2023/budget.pdf"]
    assert "2024 budget" in index.page_text("budget", 1)


# -- the garbage detector on its own ---------------------------------------------------------------
ENGLISH = ("The Committee considered the report on waste collection and the evidence that officers gave. "
           "Members agreed that the council should publish its plan by the end of the year, and asked the "
           "Director to report back to the next meeting with the costs and the risks. ") * 4


@pytest.mark.parametrize("text, garbled", [
    (ENGLISH, False),
    (mojibake(ENGLISH), True),
    (caesar(ENGLISH), True),
    ("§¶†‡•" * 60 + " a b c", True),
    ("Y Pwyllgor a ystyriodd yr adroddiad ar gasglu gwastraff a'r dystiolaeth a roddodd y swyddogion. " * 5, False),
    ("Le comité a examiné le rapport sur la collecte des déchets et les preuves fournies par les agents. " * 5, False),
    ("委員会は廃棄物収集に関する報告書と職員が提出した証拠を検討した。" * 10, False),
    ("| 2023 | 1,204.50 | 3,330.00 | 17% |\n" * 30, False),
    ("too short to judge ### @@@", False),
])
def test_garbage_detector(text, garbled):
    assert judge(text).garbled is garbled, judge(text)


def test_no_shipped_report_is_taken_for_garbage():
    """A sample of pages of each shipped report (all pages: checked by hand, too slow for every run)."""
    import pypdf

    for path in sorted((REPO_ROOT / "corpus").glob("*.pdf")):
        pages = pypdf.PdfReader(path).pages
        raw = [pages[n].extract_text() for n in sorted({0, 1, 2, len(pages) // 2, len(pages) - 1})]
        assert not judge("\n".join(raw)).garbled, path.name
        assert [n for n, page in enumerate(raw, 1) if judge(page).garbled] == [], path.name


def test_a_garbled_text_file_suggests_fixing_its_encoding(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text(caesar(ENGLISH), encoding="utf-8")
    with pytest.raises(UnreadableFile) as err:
        parse_file(path)
    assert "garbled" in err.value.reason and "encoding" in err.value.suggestion
