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

# Studies whose chapters the book shows (studies/<name>.yml -> book/<name>/).
STUDIES ?= seer_m0i nanomet
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval/sanitize.cfg

# Run every study (papermill, atomic) and build the HTML book with warnings as errors.
define RUN_AND_BUILD
	for s in $(STUDIES); do $(BIN)/python -m micromet.cli run studies/$$s.yml || exit 1; done
	$(BIN)/python -m micromet.cli book
endef

book: $(STAMP)
	$(RUN_AND_BUILD)

lint: $(STAMP)
	$(BIN)/ruff check micromet tests benchmarks

# 1. nbval re-executes the committed chapters and checks the tagged cells against them;
# 2. the studies are run again and the book built (HTML checked in a headless browser by tests/);
# 3. the whole test suite. In CI (CI=true) Debian's chromium is installed if missing.
test: $(STAMP) lint
	@if [ "$$CI" = "true" ] && ! command -v chromium >/dev/null 2>&1; then \
		(apt-get install -y chromium || (apt-get update && apt-get install -y chromium)) >/dev/null; fi
	for s in $(STUDIES); do $(BIN)/python -m pytest $(NBVAL) book/$$s || exit 1; done
	$(RUN_AND_BUILD)
	$(BIN)/python -m pytest tests

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) book/_build
