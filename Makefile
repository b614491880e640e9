# The two commands of the README:  `make book` (run the studies, build the book) and `make test`.
# Each creates .venv on first use and installs the hash-pinned requirements.lock, then micromet.
# Neither writes a tracked file: the studies run into _build/studies/<name> (git-ignored) and the
# HTML goes to book/_build/html. Only `make publish` refreshes the committed chapters book/<study>/.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock

# Studies whose chapters the book shows (studies/<name>.yml -> book/<name>/).
STUDIES ?= $(sort $(basename $(notdir $(wildcard studies/*.yml))))  # every study file
RUNS := _build/studies
NBVAL_COPY := _build/nbval
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval/sanitize.cfg

.PHONY: book test publish lint deps lock bench agreement clean git-status-before

$(STAMP): $(LOCK) pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m compileall -q micromet >/dev/null  # bytecode, as a non-editable install has
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (micromet)" >/dev/null
	touch $@

# Run every study (papermill, atomic) into $(RUNS)/<name> and build the HTML book from those runs
# with warnings as errors.
define RUN_AND_BUILD
	for s in $(STUDIES); do $(BIN)/python -m micromet.cli run studies/$$s.yml --out $(RUNS)/$$s || exit 1; done
	$(BIN)/python -m micromet.cli book --studies $(RUNS)
endef

book: $(STAMP)
	$(RUN_AND_BUILD)

# Refresh the committed chapters book/<study>/ (the published supplement) and build the book from them.
publish: $(STAMP) agreement
	for s in $(STUDIES); do $(BIN)/python -m micromet.cli run studies/$$s.yml --out book/$$s || exit 1; done
	$(BIN)/python -m micromet.cli book

lint: $(STAMP)
	$(BIN)/ruff check micromet tests benchmarks

# Declared = imported: deptry over the package (configuration in pyproject.toml).
deps: $(STAMP)
	$(BIN)/deptry micromet

# 1. ruff, deptry;
# 2. nbval re-executes a temporary copy of the committed chapters and checks the tagged cells;
# 3. the studies are run again into $(RUNS) and the book built from them (HTML checked in a
#    headless browser by tests/);
# 4. the whole test suite, which compares those runs with the committed results (tolerances of
#    micromet.reproducibility) and checks that git status is unchanged.
# In CI (CI=true) Debian's chromium is installed if missing.
test: git-status-before $(STAMP) lint deps
	@if [ "$$CI" = "true" ] && ! command -v chromium >/dev/null 2>&1; then \
		(apt-get install -y chromium || (apt-get update && apt-get install -y chromium)) >/dev/null; fi
	rm -rf $(NBVAL_COPY) && mkdir -p $(NBVAL_COPY)
	for s in $(STUDIES); do cp -R book/$$s $(NBVAL_COPY)/$$s || exit 1; done
	for s in $(STUDIES); do $(BIN)/python -m pytest $(NBVAL) $(NBVAL_COPY)/$$s || exit 1; done
	$(RUN_AND_BUILD)
	MICROMET_GIT_STATUS_BEFORE=_build/git-status-before MICROMET_FRESH_RUNS=$(RUNS) \
		$(BIN)/python -m pytest tests

# What `git status` says before the test run; tests/test_tree_clean.py checks that it says the same after.
git-status-before:
	@mkdir -p _build && (git status --porcelain --untracked-files=all > _build/git-status-before 2>/dev/null \
		|| rm -f _build/git-status-before)

# Refresh requirements.txt (generated from pyproject.toml) and the hash-pinned requirements.lock
# (every platform, Python 3.11-3.13) after changing a dependency in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python tests/_requirements.py --write
	$(BIN)/uv pip compile pyproject.toml --all-extras --universal --generate-hashes \
		--python-version 3.11 --quiet -o $(LOCK)

# The agreement-with-R artifact the validation page shows (measured on tests/reference/, with the
# benchmark figures of benchmarks/results/); tests/test_agreement.py checks it is current.
agreement: $(STAMP)
	$(BIN)/python tests/_agreement.py micromet/data/r_agreement.json

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) book/_build _build
