# The two commands of the README:  `make book` (run the studies, build the book) and `make test`.
# Each creates .venv and installs requirements.txt + micromet into it on first use.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test lint bench clean

$(STAMP): requirements.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (micromet)" >/dev/null
	touch $@

book: $(STAMP)
	$(BIN)/python -m pytest -q tests/test_design.py

lint: $(STAMP)
	$(BIN)/ruff check micromet tests benchmarks

test: $(STAMP) lint
	$(BIN)/python -m pytest tests

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) book/_build
