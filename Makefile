# Two entry points for a fresh machine: `make crawl` (install + crawl) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/dgarchive: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

.PHONY: install crawl test test-fast bench lint
install: $(BIN)/dgarchive

crawl: install
	$(BIN)/dgarchive crawl $(ARGS)

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The edit-test loop: everything but real crawls, PostgreSQL and containers (about a minute).
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check crawler pipelines migrations tests bench

bench: install
	$(BIN)/python -m bench $(ARGS)
