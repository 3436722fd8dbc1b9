# OnRecord: `make run` sets up and runs everything; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install index run test test-fast eval eval-holdout bench browser clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch lies on local disk; installing it first keeps pip from pulling a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

index: install
	$(BIN)/onrecord ingest

# Starts the API (ONRECORD_PORT, default 8000) and the web page (ONRECORD_UI_PORT, default 8501);
# prints both addresses; Ctrl-C stops both.
run: index
	$(BIN)/python -m ui.launch

test: install browser
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not model and not browser"

# Debian's Chromium and its driver for the browser test (never a downloaded browser).
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
		echo "chromium and chromedriver present"; \
	else \
		$(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; \
	fi

clean:
	rm -rf var $(VENV)

eval: index
	$(BIN)/python -m eval

# The held-out question sets (eval/holdout*_questions.jsonl, listed in the order written by the same function ingest
# teaches them with; how each was used: docs/experiments.md), each and then all together; reports in
# eval/results/holdout*/
HOLDOUT_SETS = $(shell $(BIN)/python -c 'from retriever.settings import held_out_question_sets as sets; print(" ".join(p.name.removesuffix("_questions.jsonl") for p in sets()))')
eval-holdout: index
	for set in $(HOLDOUT_SETS); do \
		$(BIN)/python -m eval --questions eval/$${set}_questions.jsonl --configs "default (hybrid),dense" --out-dir eval/results/$$set || exit 1; \
	done
	$(BIN)/python -m eval --questions $(HOLDOUT_SETS:%=eval/%_questions.jsonl) --configs "default (hybrid),dense" --out-dir eval/results/holdout-all

# Ingest, embedding and query speed, memory, encoder options (eval/results/bench.md); --scale re-runs the scale part.
bench: index
	$(BIN)/python -m eval.bench

# The full load test: the real API over var/index, 16 clients for 60 s; figures in eval/results/load.json.
.PHONY: load-test
load-test: index
	$(BIN)/python -m eval.load_test --clients 16 --duration 60

# pip-audit over the locked dependencies. It needs PyPI's vulnerability JSON or OSV, which this
# build network does not reach (see README, "Operating OnRecord"); run it where they are reachable.
.PHONY: audit
audit: install
	$(BIN)/pip-audit -r requirements.lock --no-deps --disable-pip --progress-spinner off
