# OnRecord: `make run` sets up and runs everything; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install index run ask test test-fast eval bench browser clean

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

run: index
	@echo
	@echo "OnRecord is ready. Ask a question:"
	@echo "  $(BIN)/onrecord ask \"what did Telford decide on taxi licensing\""

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not model and not browser"

clean:
	rm -rf var $(VENV)
