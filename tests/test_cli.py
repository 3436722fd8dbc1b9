import json

import pytest

from retriever import cli
from tests.fakes import FakeModels


@pytest.fixture
def cli_env(monkeypatch, built_index, fake_encoder):
    monkeypatch.setenv("ONRECORD_INDEX_DIR", str(built_index))
    monkeypatch.setattr(cli, "_models", lambda settings: FakeModels(fake_encoder))
    return built_index


def test_ask_json_prints_the_contract(cli_env, capsys):
    assert cli.main(["ask", "taxi licensing hackney carriage", "--json", "--k", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"question", "answered", "passages"}
    assert len(out["passages"]) == 2


def test_ask_human_output_shows_citation_and_marked_answer(cli_env, capsys):
    assert cli.main(["ask", "taxi licensing", "--council", "Telford & Wrekin"]) == 0
    out = capsys.readouterr().out
    assert "Tackling CSE Together" in out and "Telford & Wrekin" in out
    assert ">>> " in out and " <<<" in out and ("p. " in out or "pp. " in out)


def test_ask_uses_the_archives_own_abstention_model_and_warns_of_one_it_cannot_read(cli_env, capsys):
    from retriever.abstention import CALIBRATION_FILE, FEATURES, AbstentionModel, Calibration, write_calibration
    from retriever.store import current_build, read_manifest

    assert cli.main(["ask", "taxi licensing", "--json"]) == 0
    built_in = json.loads(capsys.readouterr().out)["answered"]
    model = read_manifest(current_build(cli_env))["model"]
    for threshold in (0.4, 0.6):  # every question's probability is 0.5
        write_calibration(cli_env, Calibration(model, AbstentionModel((0.0,) * len(FEATURES), 0.0, threshold)))
        assert cli.main(["ask", "taxi licensing", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["answered"] == (threshold < 0.5)
    write_calibration(cli_env, Calibration("all-MiniLM-L6-v2-adapted-0123456789ab",  # another model's: said, not used
                                           AbstentionModel((0.0,) * len(FEATURES), 0.0, 0.6)))
    assert cli.main(["ask", "taxi licensing", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["answered"] == built_in
    assert "was fitted for all-MiniLM-L6-v2-adapted-0123456789ab" in captured.err
    (cli_env / CALIBRATION_FILE).write_text("{", encoding="utf-8")
    assert cli.main(["ask", "taxi licensing", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["passages"] and f"{CALIBRATION_FILE} cannot be read" in captured.err


def test_ask_without_index_says_run_ingest(monkeypatch, tmp_path, fake_encoder, capsys):
    monkeypatch.setenv("ONRECORD_INDEX_DIR", str(tmp_path / "none"))
    monkeypatch.setattr(cli, "_models", lambda settings: FakeModels(fake_encoder))
    assert cli.main(["ask", "anything"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "onrecord ingest" in err


def test_unknown_council_is_one_clear_line(cli_env, capsys):
    assert cli.main(["ask", "taxi", "--council", "Atlantis"]) == 1
    assert "valid values" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["ask", "q", "--k", "0"], ["ask", "   "]])
def test_bad_arguments_exit_non_zero(cli_env, args, capsys):
    assert cli.main(args) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_ingest_reports_skipped_file_by_name(monkeypatch, tmp_path, corpus_dir, fake_encoder, capsys):
    (corpus_dir / "empty.pdf").write_bytes(b"")
    monkeypatch.setenv("ONRECORD_INDEX_DIR", str(tmp_path / "idx"))
    monkeypatch.setattr(cli, "_models", lambda settings: FakeModels(fake_encoder))
    assert cli.main(["ingest", str(corpus_dir)]) == 0
    captured = capsys.readouterr()
    assert "empty.pdf" in captured.err and "empty file" in captured.err
    assert "2 documents" in captured.out and "1 skipped" in captured.out


def test_ingest_names_the_reports_added_replaced_and_removed(monkeypatch, tmp_path, corpus_dir, fake_encoder, capsys):
    from tests.pdf_fixtures import report_pages, write_pdf

    monkeypatch.setenv("ONRECORD_INDEX_DIR", str(tmp_path / "idx"))
    monkeypatch.setattr(cli, "_models", lambda settings: FakeModels(fake_encoder))
    assert cli.main(["ingest", str(corpus_dir)]) == 0
    assert "added: board.pdf, taxi.pdf" in capsys.readouterr().out
    (corpus_dir / "board.pdf").unlink()
    write_pdf(corpus_dir / "taxi.pdf", report_pages("Telford", [["A new version of the taxi report, part one."]]))
    assert cli.main(["ingest", str(corpus_dir)]) == 0
    out = capsys.readouterr().out
    assert "replaced: taxi.pdf" in out and "removed: board.pdf" in out and "added:" not in out
    assert cli.main(["ingest", str(corpus_dir)]) == 0
    out = capsys.readouterr().out
    assert "up to date" in out and "removed:" not in out and "replaced:" not in out


def test_ask_says_when_it_searched_the_reports_spelling_and_as_typed_searches_the_slip(cli_env, capsys):
    assert cli.main(["ask", "Shropshrie licensing policy", "--k", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Showing passages for: Shropshire licensing policy (--as-typed searches the question")
    assert cli.main(["ask", "Shropshrie licensing policy", "--k", "1", "--as-typed"]) == 0
    assert capsys.readouterr().out.startswith("Did you mean: Shropshire licensing policy\n")
    assert cli.main(["ask", "Shropshire licensing policy", "--k", "1"]) == 0
    assert "Showing passages for" not in capsys.readouterr().out


def test_ask_names_the_words_no_report_holds_and_a_question_with_none_to_search(cli_env, capsys):
    assert cli.main(["ask", "taxi licensing for zeppelins", "--k", "1"]) == 0
    assert capsys.readouterr().out.startswith('Not in any report: "zeppelins"\n')
    assert cli.main(["ask", "taxi licensing", "--k", "1"]) == 0
    assert "Not in any report" not in capsys.readouterr().out
    assert cli.main(["ask", "what is it?"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("The question names nothing to look for") and ">>> " not in out


def test_ingest_names_a_teaching_file_it_cannot_read_and_builds_nothing(monkeypatch, tmp_path, corpus_dir,
                                                                        fake_encoder, capsys):
    bad = tmp_path / "teach.jsonl"
    bad.write_text('{"question": "What is a MASH?", "evidence": []}\nnot json\n', encoding="utf-8")
    monkeypatch.setenv("ONRECORD_INDEX_DIR", str(tmp_path / "idx"))
    monkeypatch.setenv("ONRECORD_TEACHING_QUESTIONS", json.dumps([str(bad)]))
    monkeypatch.setattr(cli, "_models", lambda settings: FakeModels(fake_encoder))
    assert cli.main(["ingest", str(corpus_dir)]) == 1
    err = capsys.readouterr().err
    assert "teach.jsonl, line 2" in err and "Traceback" not in err
    assert not (tmp_path / "idx").exists()
