"""Faults during ingest and in the index on disk: a killed ingest, a full disk, damaged index files.

In every case the index in use keeps answering exactly as before, nothing half-built is ever
made current, and the next `onrecord ingest` completes (and repairs a damaged index).
"""
from __future__ import annotations

import errno
import logging
import os
import selectors
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from retriever import build as build_module
from retriever import cli
from retriever.build import DiskFull, build_index
from retriever.search import Searcher
from retriever.settings import Settings
from retriever.store import IndexUnavailable, current_build, open_index
from tests.bad_files import write_huge_pdf
from tests.conftest import REPO_ROOT, make_corpus
from tests.fakes import FakeEncoder, FakeModels
from tests.pdf_fixtures import report_pages, write_pdf

QUESTIONS = ["taxi licensing hackney carriage", "how many young people were at risk of sexual exploitation",
             "counselling support for victims", "Family Connect referrals"]
NEW_TOPICS = ["ferry timetables", "cemetery fees", "market stall licences"]


def _answers(root: Path, encoder) -> list[dict]:
    searcher = Searcher(open_index(root, encoder.name, encoder.dimension), encoder)
    return [searcher.search(q, k=5).to_dict() for q in QUESTIONS]


def _add_new_reports(corpus: Path) -> None:
    for topic in NEW_TOPICS:
        write_pdf(corpus / f"{topic}.pdf", report_pages(f"Report on {topic}", [
            [f"Section {part}: the Cabinet reviewed {topic} and agreed the changes set out in part {part}."]
            for part in ("one", "two", "three")]))


def _settings(root: Path, corpus: Path) -> Settings:
    return Settings(index_dir=root, corpus_dir=corpus, cors_origins=[], api_key=None, audit_log=None)


def _api_answers(client: TestClient) -> list[dict]:
    out = []
    for q in QUESTIONS:
        r = client.get("/search", params={"q": q, "k": 5})
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


@pytest.fixture
def served(tmp_path):
    """A corpus and an index built from it with the default settings `onrecord ingest` uses."""
    corpus = make_corpus(tmp_path / "corpus")
    root = tmp_path / "index"
    encoder = FakeEncoder()
    build_index([corpus], root, encoder)
    return corpus, root, encoder


def _assert_untouched(root: Path, build_before: Path, answers_before: list[dict], encoder) -> None:
    assert current_build(root) == build_before
    assert (build_before / "manifest.json").is_file()
    assert _answers(root, encoder) == answers_before


# -- (a) SIGKILL a real `onrecord ingest` ---------------------------------------------------------------
INGEST_SCRIPT = textwrap.dedent('''
    """`onrecord ingest` (the real CLI) with the fake encoder, slowed down at one stage so it can be killed there."""
    import sys, time
    from retriever import build, cli
    from tests.fakes import FakeEncoder, FakeModels

    stage = sys.argv[1]

    def announce_and_wait(marker):
        print(marker, flush=True)
        time.sleep(120)

    class SlowEncoder(FakeEncoder):
        def encode(self, texts):
            if stage == "embedding" and self.calls == 0:
                announce_and_wait("STAGE embedding")
            return super().encode(texts)

    if stage == "writing":  # the new build's database is written, its vectors not yet
        save = build.save_vector_index
        build.save_vector_index = lambda *a, **k: (announce_and_wait("STAGE writing"), save(*a, **k))[1]
    if stage == "switching":  # the new build is complete but not yet current
        switch = build._switch_current
        build._switch_current = lambda *a, **k: (announce_and_wait("STAGE switching"), switch(*a, **k))[1]
    class SlowModels(FakeModels):
        def adapt(self, models_dir, pairs, log):
            if stage == "adapting":  # training, under a temporary name as retriever.adaptation trains
                (models_dir / ".tmp-training").mkdir(parents=True)
                announce_and_wait("STAGE adapting")
            return super().adapt(models_dir, pairs, log)

    cli._models = lambda settings: SlowModels(SlowEncoder())
    sys.exit(cli.main(["ingest", *sys.argv[2:]]))
''')


def _ingest_process(tmp_path: Path, root: Path, corpus: Path, stage: str) -> subprocess.Popen:
    script = tmp_path / "slow_ingest.py"
    script.write_text(INGEST_SCRIPT, encoding="utf-8")
    # the index served is the packaged (fake) model's; an ingest killed while adapting a model leaves it too
    env = {**os.environ, "ONRECORD_INDEX_DIR": str(root), "PYTHONPATH": str(REPO_ROOT),
           "ONRECORD_ADAPT_MODEL": str(stage == "adapting").lower()}
    return subprocess.Popen([sys.executable, str(script), stage, str(corpus)], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_line(proc: subprocess.Popen, wanted: str, timeout: float = 60) -> None:
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            line = proc.stdout.readline()
            if wanted in line:
                return
            if not line and proc.poll() is not None:
                break
    proc.kill()
    raise AssertionError(f"ingest never reached {wanted!r}: {proc.stderr.read()}")


@pytest.mark.parametrize("stage", ["adapting", "embedding", "writing", "switching"])
def test_sigkilled_ingest_leaves_the_index_serving_and_the_next_run_completes(served, tmp_path, stage):
    corpus, root, encoder = served
    build_before = current_build(root)
    answers_before = _answers(root, encoder)
    _add_new_reports(corpus)
    with TestClient(create_app(_settings(root, corpus), encoder, reload_interval=0)) as client:
        api_before = _api_answers(client)
        proc = _ingest_process(tmp_path, root, corpus, stage)
        try:
            _wait_for_line(proc, f"STAGE {stage}")
            builds = root / "builds"
            if stage == "writing":
                assert [p for p in builds.iterdir() if p.name.startswith(".tmp-")], "a half-written build exists"
            if stage == "switching":
                assert len([p for p in builds.iterdir() if not p.name.startswith(".")]) == 2
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            proc.stderr.close()
        _assert_untouched(root, build_before, answers_before, encoder)
        assert _api_answers(client) == api_before  # the API never noticed

        # the next run completes: it takes the lock the killed one held and clears what it left
        done = subprocess.run([sys.executable, str(tmp_path / "slow_ingest.py"), "none", str(corpus)], cwd=REPO_ROOT,
                              env={**os.environ, "ONRECORD_INDEX_DIR": str(root), "PYTHONPATH": str(REPO_ROOT),
                                   "ONRECORD_ADAPT_MODEL": "false"},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "Index updated: 5 documents" in done.stdout
        assert current_build(root) != build_before
        assert not [p for p in root.rglob(".tmp*")]
        assert len([p for p in (root / "builds").iterdir()]) <= 2  # the new build and the one before it
        index = open_index(root, encoder.name, encoder.dimension)
        assert {d.file for d in index.documents.values()} >= {f"{t}.pdf" for t in NEW_TOPICS}
        assert index.vectors.ntotal == index.chunk_count
        # and the API switches to it without a restart
        assert client.get("/healthz").json()["documents"] == 5


# -- (b) disk full during ingest ---------------------------------------------------------------------
def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _faiss_enospc(*args, **kwargs):  # what faiss.write_index raises on a full disk (seen on a tiny tmpfs)
    raise RuntimeError("Error in void faiss::write_index(const Index*, IOWriter*, int) at index_write.cpp:499: "
                       "Error: 'ret == (size * 4)' failed: write error in vectors.faiss: 65491 != 512000 "
                       "(No space left on device)")


def _sqlite_fills_up(monkeypatch, corpus):
    """A real SQLITE_FULL: the new build's database may not grow at all (and a longer report needs it to)."""
    words = ("roofs", "boilers", "windows", "damp", "lifts", "gutters", "wiring", "doors", "stairs", "drains", "locks")
    write_pdf(corpus / "long report.pdf", report_pages("Long report", [
        [f"The panel heard evidence on {words[(n + j) % 11]} and {words[(n * j) % 11]} in the repairs backlog."
         for j in range(12)] for n in range(30)]))
    connect = build_module.connect

    def small_connect(path, read_only):
        conn = connect(path, read_only)
        if not read_only:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(build_module, "connect", small_connect)


DISK_FULL_AT = {
    "copying the database": lambda mp, corpus: mp.setattr(build_module.shutil, "copyfile", _enospc),
    "writing the database": _sqlite_fills_up,
    "writing the vectors": lambda mp, corpus: mp.setattr(build_module, "save_vector_index", _faiss_enospc),
    "flushing to disk": lambda mp, corpus: mp.setattr(build_module, "fsync_tree", _enospc),
    "switching the link": lambda mp, corpus: mp.setattr(Path, "symlink_to", _enospc),
}


@pytest.mark.parametrize("where", list(DISK_FULL_AT))
def test_disk_full_leaves_the_old_index_intact_and_says_so(served, monkeypatch, where):
    corpus, root, encoder = served
    build_before = current_build(root)
    answers_before = _answers(root, encoder)
    _add_new_reports(corpus)
    DISK_FULL_AT[where](monkeypatch, corpus)
    with pytest.raises(DiskFull) as err:
        build_index([corpus], root, encoder)
    assert err.value.errno == errno.ENOSPC and "disk full" in str(err.value)
    monkeypatch.undo()
    _assert_untouched(root, build_before, answers_before, encoder)
    leftovers = [p for p in (root / "builds").iterdir() if p != build_before]
    assert leftovers == [], "the failed build's space is given back"
    summary = build_index([corpus], root, encoder)
    assert set(summary.added) >= {f"{t}.pdf" for t in NEW_TOPICS} and not summary.skipped


def test_cli_says_the_disk_is_full_and_the_index_in_use_is_unchanged(served, monkeypatch, capsys):
    corpus, root, encoder = served
    build_before = current_build(root)
    _add_new_reports(corpus)
    monkeypatch.setenv("ONRECORD_INDEX_DIR", str(root))
    monkeypatch.setenv("ONRECORD_ADAPT_MODEL", "false")
    monkeypatch.setattr(cli, "_models", lambda settings: FakeModels(encoder))
    monkeypatch.setattr(build_module, "save_vector_index", _enospc)
    assert cli.main(["ingest", str(corpus)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"error: disk full (no space left on device) while writing the new index, which was abandoned: "
                   f"{root}; the index in use is unchanged")
    assert current_build(root) == build_before


def _mount_tiny_tmpfs(target: Path, size: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    target.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)], capture_output=True)
    return done.returncode == 0


def test_a_real_full_disk_tiny_tmpfs(tmp_path, monkeypatch, capsys):
    """The same on a real filesystem that fills up (needs root and tmpfs; the tests above need neither)."""
    corpus = make_corpus(tmp_path / "corpus")
    encoder = FakeEncoder()
    # room for the small index about three times over: enough to update it, far too little for 400 more pages
    probe = current_build(build_index([corpus], tmp_path / "probe", encoder) and tmp_path / "probe")
    size_kib = 3 * sum(f.stat().st_size for f in probe.iterdir()) // 1024 + 64
    mount = tmp_path / f"tiny-{uuid.uuid4().hex[:8]}"
    if not _mount_tiny_tmpfs(mount, f"{size_kib}k"):
        pytest.skip("cannot mount a tmpfs here (needs root); the monkeypatched disk-full tests cover the logic")
    try:
        root = mount / "index"
        build_index([corpus], root, encoder)
        build_before = current_build(root)
        answers_before = _answers(root, encoder)
        used_before = shutil.disk_usage(mount).used
        write_huge_pdf(corpus / "capital programme.pdf")  # its build needs far more than is left
        with pytest.raises(DiskFull) as err:
            build_index([corpus], root, encoder)
        _assert_untouched(root, build_before, answers_before, encoder)
        assert [p for p in (root / "builds").iterdir()] == [build_before]
        assert shutil.disk_usage(mount).used <= used_before + 16 * 1024, "the failed build's space is given back"
        del err  # (its traceback holds the failed build's frames)
        monkeypatch.setenv("ONRECORD_INDEX_DIR", str(root))
        monkeypatch.setenv("ONRECORD_ADAPT_MODEL", "false")
        monkeypatch.setattr(cli, "_models", lambda settings: FakeModels(encoder))
        assert cli.main(["ingest", str(corpus)]) == 1
        assert "disk full" in capsys.readouterr().err
        _assert_untouched(root, build_before, answers_before, encoder)
        (corpus / "capital programme.pdf").unlink()  # room again: the next run completes
        _add_new_reports(corpus)
        assert build_index([corpus], root, encoder).documents == 5
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


# -- (c) a missing or damaged index -------------------------------------------------------------------
def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _loop(link: Path) -> None:
    link.unlink()
    link.symlink_to(link.name)  # `current` -> `current`


DAMAGE = {
    "vectors truncated": lambda b: _truncate(b / "vectors.faiss"),
    "vectors missing": lambda b: (b / "vectors.faiss").unlink(),
    "vectors garbage": lambda b: (b / "vectors.faiss").write_bytes(b"\x00garbage" * 64),
    "database garbage": lambda b: (b / "index.sqlite").write_bytes(b"this is not a database" * 100),
    "database truncated": lambda b: _truncate(b / "index.sqlite"),
    "database empty": lambda b: (b / "index.sqlite").write_bytes(b""),
    "database missing": lambda b: (b / "index.sqlite").unlink(),
    "manifest missing": lambda b: (b / "manifest.json").unlink(),
    "manifest garbage": lambda b: (b / "manifest.json").write_text("{half written", encoding="utf-8"),
    "build folder gone": lambda b: shutil.rmtree(b),
    "current link loops": lambda b: _loop(b.parent.parent / "current"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_index_is_a_clear_error_a_503_and_is_repaired_by_the_next_ingest(served, damage, monkeypatch,
                                                                                     capsys, caplog):
    corpus, root, encoder = served
    answers_before = _answers(root, encoder)
    DAMAGE[damage](current_build(root) or (root / "current").resolve())

    with pytest.raises(IndexUnavailable) as err:
        open_index(root, encoder.name, encoder.dimension)
    message = str(err.value)
    assert str(root) in message and "Traceback" not in message
    assert any(word in message for word in ("damaged", "missing", "unreadable", "no index")), message

    # the API: 503 with the remedy, one log line, no crash loop
    caplog.set_level(logging.INFO, logger="onrecord.api")
    with TestClient(create_app(_settings(root, corpus), encoder, reload_interval=0)) as client:
        for _ in range(3):
            r = client.get("/search", params={"q": "taxi"})
            assert r.status_code == 503 and "onrecord ingest" in r.json()["detail"]
            assert client.get("/healthz").status_code == 503
        logged = [rec for rec in caplog.records if rec.name == "onrecord.api" and rec.levelno >= logging.ERROR]
        assert len(logged) == 1 and "index unavailable" in logged[0].getMessage()

        # the CLI: one line, exit 1
        monkeypatch.setenv("ONRECORD_INDEX_DIR", str(root))
        monkeypatch.setenv("ONRECORD_ADAPT_MODEL", "false")
        monkeypatch.setattr(cli, "_models", lambda settings: FakeModels(encoder))
        capsys.readouterr()
        assert cli.main(["ask", "taxi licensing"]) == 1
        err_out = capsys.readouterr().err
        assert err_out.startswith("error: ") and err_out.count("\n") == 1

        # the next ingest rebuilds it (even though no report changed) and the API picks it up
        summary = build_index([corpus], root, encoder)
        assert summary.changed and summary.documents == 2
        assert _answers(root, encoder) == answers_before
        assert client.get("/search", params={"q": "taxi"}).status_code == 200


def test_a_current_link_to_nowhere_says_run_ingest(served):
    corpus, root, encoder = served
    link = root / "current"
    link.unlink()
    link.symlink_to("builds/does-not-exist")
    with pytest.raises(IndexUnavailable, match="onrecord ingest"):
        open_index(root, encoder.name, encoder.dimension)
    assert build_index([corpus], root, encoder).documents == 2
    assert open_index(root, encoder.name, encoder.dimension).chunk_count > 0
