"""The model an index's vectors come from: adapted at ingest, kept for later reports, served with its index."""
import json

import pytest

from api.index_holder import IndexHolder
from retriever.index_model import encoder_for_build, encoder_for_index, ingest
from retriever.search import Searcher
from retriever.store import IndexUnavailable, current_build, open_index
from tests.fakes import FakeModels
from tests.pdf_fixtures import report_pages, write_pdf


def _manifest(root):
    return json.loads((current_build(root) / "manifest.json").read_text())


def _add_report(corpus):
    write_pdf(corpus / "buses.pdf", report_pages("Bus services", [
        [f"Part {n}: the Cabinet agreed new late night bus routes for young people and their safety on them."] * 4
        for n in ("one", "two")]))


def test_a_fresh_index_is_embedded_by_a_model_adapted_to_its_own_chunks(tmp_path, corpus_dir):
    models = FakeModels()
    root = tmp_path / "index"
    ingest([corpus_dir], root, models, adapt=True)
    manifest = _manifest(root)
    name = manifest["adapted_model"]
    assert (root / "models" / name / "modules.json").is_file()
    assert manifest["model"] == name  # the vectors are the adapted model's
    encoder = encoder_for_index(root, models)
    assert encoder.name == name
    index = open_index(root, encoder.name, encoder.dimension)
    texts = [c.text for c in index.chunks(list(range(1, index.chunk_count + 1))).values()]
    [pairs] = models.adapted_on
    assert pairs and all(any(p.anchor in t for t in texts) for p in pairs)  # trained on the reports' own text
    assert Searcher(index, encoder).search("taxi licensing").passages


def test_a_report_added_later_is_embedded_by_the_model_already_made(tmp_path, corpus_dir):
    models = FakeModels()
    root = tmp_path / "index"
    ingest([corpus_dir], root, models, adapt=True)
    name = _manifest(root)["adapted_model"]
    _add_report(corpus_dir)
    summary = ingest([corpus_dir], root, models, adapt=True)
    assert summary.added == ("buses.pdf",) and summary.embedded > 0
    assert len(models.adapted_on) == 1 and _manifest(root)["adapted_model"] == name


def test_rebuild_adapts_again_and_the_old_model_goes_once_no_build_names_it(tmp_path, corpus_dir, monkeypatch):
    from retriever import build as build_module

    monkeypatch.setattr(build_module, "REPLACED_GRACE_SECONDS", 0.0)  # no server is reading the builds
    models = FakeModels()
    root = tmp_path / "index"
    ingest([corpus_dir], root, models, adapt=True)
    first = _manifest(root)["adapted_model"]
    _add_report(corpus_dir)
    ingest([corpus_dir], root, models, adapt=True, rebuild=True)
    second = _manifest(root)["adapted_model"]
    assert len(models.adapted_on) == 2 and second != first
    assert {p.name for p in (root / "models").iterdir()} == {first, second}  # the build before may be served
    ingest([corpus_dir], root, models, adapt=True, rebuild=True)
    assert {p.name for p in (root / "models").iterdir()} == {second}


def test_the_model_a_served_model_was_taught_from_is_kept_and_goes_with_it(tmp_path, corpus_dir, monkeypatch):
    from retriever import build as build_module
    from retriever.adaptation import TAUGHT_FROM_FILE

    monkeypatch.setattr(build_module, "REPLACED_GRACE_SECONDS", 0.0)

    class TeachingModels(FakeModels):
        """Adapts as the fake does, then "teaches" it: a second folder naming the first."""

        def adapt(self, models_dir, pairs, log):
            adapted = super().adapt(models_dir, pairs, log)
            taught = models_dir / f"{adapted}-taught"
            taught.mkdir(exist_ok=True)
            (taught / "modules.json").write_text("[]")
            (taught / TAUGHT_FROM_FILE).write_text(adapted)
            return taught.name

    models = TeachingModels()
    root = tmp_path / "index"
    ingest([corpus_dir], root, models, adapt=True)
    taught = _manifest(root)["adapted_model"]
    ingest([corpus_dir], root, models, adapt=True, rebuild=True)  # the same reports: the same two models
    assert {p.name for p in (root / "models").iterdir()} == {taught, taught.removesuffix("-taught")}
    _add_report(corpus_dir)
    ingest([corpus_dir], root, models, adapt=True, rebuild=True)
    ingest([corpus_dir], root, models, adapt=True, rebuild=True)
    newer = _manifest(root)["adapted_model"]
    assert newer != taught
    assert {p.name for p in (root / "models").iterdir()} == {newer, newer.removesuffix("-taught")}


def test_switching_adaptation_on_or_off_builds_the_index_again(tmp_path, corpus_dir):
    models = FakeModels()
    root = tmp_path / "index"
    ingest([corpus_dir], root, models, adapt=False)
    assert "adapted_model" not in _manifest(root) and not models.adapted_on
    summary = ingest([corpus_dir], root, models, adapt=True)  # nothing changed in the reports
    assert summary.changed and _manifest(root).get("adapted_model") and len(models.adapted_on) == 1
    ingest([corpus_dir], root, models, adapt=False)
    assert "adapted_model" not in _manifest(root)
    assert encoder_for_index(root, models).name == models.encoder.name


def test_an_index_whose_model_is_missing_is_refused_then_rebuilt(tmp_path, corpus_dir):
    import shutil

    models = FakeModels()
    root = tmp_path / "index"
    ingest([corpus_dir], root, models, adapt=True)
    shutil.rmtree(root / "models" / _manifest(root)["adapted_model"])
    with pytest.raises(IndexUnavailable, match="rebuild"):
        encoder_for_build(root, current_build(root), models)
    ingest([corpus_dir], root, models, adapt=True)
    assert len(models.adapted_on) == 2
    assert encoder_for_index(root, models).name == _manifest(root)["adapted_model"]


def test_the_api_holder_serves_each_build_with_its_own_model(tmp_path, corpus_dir):
    models = FakeModels()
    root = tmp_path / "index"
    ingest([corpus_dir], root, models, adapt=False)
    holder = IndexHolder(root, lambda build: encoder_for_build(root, build, models), check_interval=0)
    assert holder.searcher().encoder.name == models.encoder.name
    ingest([corpus_dir], root, models, adapt=True)
    searcher = holder.searcher()
    assert searcher.encoder.name == _manifest(root)["adapted_model"] == searcher.index.manifest["model"]
    # the reports' words for spelling were read before the build was served, not on its first question
    assert searcher.index._report_words is not None
    assert searcher.search("taxi licensing").passages


@pytest.mark.parametrize("kind", ["onnx", "onnx-int8"])
def test_an_adapted_models_onnx_export_is_kept_with_the_model_not_in_the_shared_cache(tmp_path, kind):
    from retriever.index_model import PackagedModels

    models = PackagedModels(kind, tmp_path / "cache")
    folder = tmp_path / "index" / "models" / "all-MiniLM-L6-v2-adapted-0123456789ab"
    adapted = models.adapted(folder, folder.name)
    assert adapted.model_file.parent == folder  # removed with the model when no build names it
    assert adapted.name.startswith(folder.name)
    assert models.packaged().model_file.parent == tmp_path / "cache"
    assert not (tmp_path / "cache").exists() and not folder.exists()  # nothing made until first use


@pytest.mark.parametrize("checkpointing", [True, False])
def test_the_settings_choose_the_models_and_whether_training_checkpoints(tmp_path, monkeypatch, checkpointing):
    from retriever import adaptation
    from retriever.adaptation import ClozePair
    from retriever.index_model import PackagedModels
    from retriever.settings import Settings

    settings = Settings(encoder="onnx-int8", model_cache_dir=tmp_path / "cache", encoder_threads=1,
                        adapt_checkpointing=checkpointing)
    models = PackagedModels.from_settings(settings)
    assert (models.kind, models.cache_dir, models.threads, models.checkpointing) == (
        "onnx-int8", tmp_path / "cache", 1, checkpointing)
    trained = []

    def fake_train(base_model, pairs, out_dir, recipe, threads, log, checkpointing, what="adapting the model"):
        trained.append(checkpointing)
        out_dir.mkdir(parents=True)
        (out_dir / "modules.json").write_text("[]")
        return out_dir

    monkeypatch.setattr(adaptation, "train", fake_train)
    name = models.adapt(tmp_path / "models", [ClozePair("a window of words", "its chunk", 0)], lambda m: None)
    assert trained == [checkpointing]
    assert (tmp_path / "models" / name / "modules.json").is_file()
