"""eval.ranks: where the answers rank, in bands, and a clear error when the indexes it reads are missing."""
from __future__ import annotations

from eval.ranks import band_counts, main


def test_ranks_fall_in_their_bands_and_misses_are_counted():
    counts = band_counts([1, 5, 6, 10, 11, 20, 21, 50, 51, 100, None, None])
    assert counts == {"1-5": 2, "6-10": 2, "11-20": 2, "21-50": 2, "51-100": 2, "not found": 2}


def test_every_band_is_shown_even_when_empty():
    assert band_counts([]) == {"1-5": 0, "6-10": 0, "11-20": 0, "21-50": 0, "51-100": 0, "not found": 0}


def test_missing_indexes_are_named_before_any_search(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ONRECORD_INDEX_DIR", str(tmp_path / "index"))
    assert main(["--teaching", str(tmp_path / "teaching"), "--folds", "2"]) == 2
    error = capsys.readouterr().err
    assert str(tmp_path / "index") in error and str(tmp_path / "teaching" / "fold-2") in error
    assert "python -m eval.teaching --folds 2" in error


def test_a_fold_built_for_other_sets_is_refused(tmp_path, monkeypatch, capsys):
    # every index present (a `current` build folder), but the folds carry no record of the sets they were built for
    for root in (tmp_path / "index", tmp_path / "teaching" / "fold-1", tmp_path / "teaching" / "fold-2"):
        (root / "current").mkdir(parents=True)
    monkeypatch.setenv("ONRECORD_INDEX_DIR", str(tmp_path / "index"))
    assert main(["--teaching", str(tmp_path / "teaching"), "--folds", "2"]) == 2
    error = capsys.readouterr().err
    assert "no index" not in error
    assert f"{tmp_path / 'teaching' / 'fold-1'} has no readable fold.json" in error
    assert f"{tmp_path / 'teaching' / 'fold-2'} has no readable fold.json" in error
