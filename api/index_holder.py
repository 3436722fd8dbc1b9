"""The index the API serves, switched to a new build when `onrecord ingest` makes one current.

`onrecord ingest` writes every build to a fresh folder and only then swaps the `current`
symlink (retriever/build.py), so whatever `current` points to is complete. The holder
looks at that symlink at most once per `check_interval` seconds, on a request, and opens
the new build before letting go of the old one: a request is served wholly from one build
(it takes one Searcher and keeps it), never from a half-built index, and re-ingest needs no
restart. With no usable index the holder raises IndexUnavailable (the API answers 503) and
tries again on a later request, logging each distinct reason once rather than on every request.
An archive's own abstention model (`python -m eval.calibrate --save`, at the index's root) is read each time a
build is opened: saved while the API runs, it applies from the next build or restart.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

from retriever.encoder import Encoder
from retriever.search import SearchConfig, Searcher, calibrated_searcher
from retriever.store import IndexReader, IndexUnavailable, current_build

log = logging.getLogger("onrecord.api")

NO_INDEX = "run `onrecord ingest` to build it"


class IndexHolder:
    """`encoder_for(build)`: the encoder of the model that embedded a build (retriever.index_model); a build
    made with the model already in use keeps it, loaded, and a build with another model gets that model."""

    def __init__(self, root: Path, encoder_for: Callable[[Path], Encoder], config: SearchConfig = SearchConfig(),
                 check_interval: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.root = Path(root)
        self.encoder_for = encoder_for
        self.config = config
        self.check_interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._searcher: Searcher | None = None
        self._build: Path | None = None
        self._checked_at: float | None = None
        self._error: str | None = None  # why there is no index to serve (None when serving)
        self._logged: str | None = None  # the key of the last problem logged, so each one is logged once

    # -- what requests use -------------------------------------------------------------------
    def searcher(self) -> Searcher:
        """The Searcher over the current build; raises IndexUnavailable when there is none."""
        if self._due():
            if self._lock.acquire(blocking=self._searcher is None):
                try:
                    if self._due():
                        self._refresh()
                finally:
                    self._lock.release()
        searcher = self._searcher
        if searcher is None:
            raise IndexUnavailable(self._error or f"no index at {self.root}: {NO_INDEX}")
        return searcher

    @property
    def build(self) -> Path | None:
        return self._build

    def refresh(self) -> None:
        """Look at the `current` symlink now (at startup, and after a failure while serving)."""
        with self._lock:
            self._refresh()

    def expire(self) -> None:
        """Make the next request look at the index again (e.g. after a database error)."""
        self._checked_at = None

    # -- internals ----------------------------------------------------------------------------
    def _due(self) -> bool:
        checked = self._checked_at
        return checked is None or self._clock() - checked >= self.check_interval

    def _refresh(self) -> None:
        self._checked_at = self._clock()
        try:
            target = current_build(self.root)
        except IndexUnavailable as exc:  # e.g. a symlink loop
            target = None
            reason = str(exc)
        else:
            reason = f"no index at {self.root}: {NO_INDEX}"
        if target is None:
            if self._searcher is None:
                self._fail(reason)
            else:  # keep serving what is open rather than go dark; say so once
                self._note(f"{reason}; still serving {self._build}", logging.WARNING)
            return
        if target == self._build and self._searcher is not None:
            return
        try:
            encoder = self.encoder_for(target)
            if self._searcher is not None and self._searcher.encoder.name == encoder.name:
                encoder = self._searcher.encoder  # loaded already
            reader = IndexReader(target, encoder.name, encoder.dimension)
        except (IndexUnavailable, OSError) as exc:
            message = str(exc) if isinstance(exc, IndexUnavailable) else f"index in {target} unreadable ({exc})"
            if NO_INDEX not in message and "onrecord ingest" not in message:
                message += f": {NO_INDEX}"
            # keyed by the build and the kind of failure, not the wording: FAISS ends its read errors with
            # strerror(errno), whose value is left over from unrelated calls and differs from one try to the next
            key = f"{target} {type(exc).__name__}"
            if self._searcher is None:
                self._fail(message, key)
            else:
                self._note(f"{message}; still serving {self._build}", logging.ERROR, key)
            return
        previous = self._build
        if self._searcher is not None and self._searcher.encoder is not encoder:
            encoder.encode(["warm up"])  # load the new model before serving with it, not on a question
        reader.report_words()  # read for spelling before serving, not on a question (~1 s at 30k chunks)
        self._searcher = calibrated_searcher(self.root, reader, encoder, log.warning, self.config)
        self._build = target
        self._error = None
        self._logged = None
        log.info("serving index %s (%d documents, %d chunks)%s", target.name, len(reader.documents),
                 reader.chunk_count, f", was {previous.name}" if previous else "")

    def _fail(self, message: str, key: str | None = None) -> None:
        self._error = message
        self._note(message, logging.ERROR, key)

    def _note(self, message: str, level: int, key: str | None = None) -> None:
        """Log a problem unless it is the one logged last; `key` names it when its message can vary."""
        key = message if key is None else key
        if key != self._logged:
            self._logged = key
            log.log(level, "index unavailable: %s", message)
