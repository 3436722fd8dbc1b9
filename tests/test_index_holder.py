import itertools
import logging

import pytest

from api.index_holder import IndexHolder
from retriever.index_model import encoder_for_build, ingest
from retriever.store import IndexUnavailable
from tests.fakes import FakeModels


def test_a_build_that_fails_to_open_is_logged_once_though_its_error_wording_varies(tmp_path, corpus_dir, caplog):
    # FAISS ends a read error with strerror(errno), left over from other calls: "(Success)" on one try,
    # "(No such file or directory)" on the next; the same broken build must still be one log line
    models = FakeModels()
    root = tmp_path / "index"
    ingest([corpus_dir], root, models, adapt=False)
    wording = itertools.cycle(["Success", "No such file or directory"])

    def broken(build):
        raise IndexUnavailable(f"index in {build} is damaged (read error 227 != 512 ({next(wording)}))")

    holder = IndexHolder(root, broken, check_interval=0)
    caplog.set_level(logging.INFO, logger="onrecord.api")
    for _ in range(4):
        with pytest.raises(IndexUnavailable, match="damaged"):
            holder.searcher()
    errors = [r for r in caplog.records if r.name == "onrecord.api" and r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "index unavailable" in errors[0].getMessage()

    # repaired, then broken again: a new problem, logged again
    holder.encoder_for = lambda build: encoder_for_build(root, build, models)
    assert holder.searcher().search("taxi licensing").passages
    ingest([corpus_dir], root, models, adapt=False, rebuild=True)
    holder.encoder_for = broken
    for _ in range(3):
        holder.searcher()  # the old build keeps serving
    errors = [r for r in caplog.records if r.name == "onrecord.api" and r.levelno >= logging.ERROR]
    assert len(errors) == 2 and "still serving" in errors[1].getMessage()
