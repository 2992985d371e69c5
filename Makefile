# Two entry points for a fresh machine: `make crawl` (install + crawl) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/dgarchive: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# pywb (replay, and the tests that replay) in an environment of its own: it pins an old redis
# that scrapy-redis cannot share. `dgarchive replay` and the tests find it by
# DGARCHIVE_PYWB_PYTHON (tests/conftest.py sets it when this directory exists).
PYWB_VENV ?= .venv-pywb
$(PYWB_VENV)/bin/wayback:
	$(PYTHON) -m venv $(PYWB_VENV)
	$(PYWB_VENV)/bin/python -m pip install -q 'pywb>=2.8' 'setuptools>=75,<81'

.PHONY: install crawl test test-fast bench bench-large lint image-test
install: $(BIN)/dgarchive $(PYWB_VENV)/bin/wayback

crawl: $(BIN)/dgarchive
	$(BIN)/dgarchive crawl $(ARGS)

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The edit-test loop: everything but real crawls, PostgreSQL and containers (about a minute).
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

# Style and types (ruff), and the import layers of docs/architecture.md (import-linter).
lint: install
	$(BIN)/ruff check crawler pipelines migrations tests bench
	$(BIN)/lint-imports

bench: install
	$(BIN)/python -m bench $(ARGS)

# Linear growth and memory (slow: 2,000 and 20,000 articles timed, 50,000 for peak RSS).
bench-large: install
	$(BIN)/python -m bench.bench_large $(ARGS)

# The container for real (needs a running Docker engine; .ci/run starts one): a local Debian
# base (.ci/docker-base.sh, cached), the project's two images on it (the default crawler image
# and `--target replay`, which adds pywb), a Compose v2 binary for the compose checks
# (.ci/compose-v2.sh: Debian has only 1.29), then tests/container/ against all of that.
# Debian's docker client: a newer one on the PATH may lack the builder it expects.
DOCKER ?= /usr/bin/docker
IMAGE ?= dgarchive:ci
REPLAY_IMAGE ?= dgarchive:ci-replay
image-test: install
	base=$$(DOCKER=$(DOCKER) .ci/docker-base.sh) && \
	  DOCKER_BUILDKIT=1 $(DOCKER) build --quiet --build-arg BASE=$$base -t $(IMAGE) . >/dev/null && \
	  DOCKER_BUILDKIT=1 $(DOCKER) build --quiet --build-arg BASE=$$base --target replay \
	    -t $(REPLAY_IMAGE) . >/dev/null
	v2=$$(PIP=$(BIN)/pip .ci/compose-v2.sh || true) && \
	DGARCHIVE_IMAGE=$(IMAGE) DGARCHIVE_REPLAY_IMAGE=$(REPLAY_IMAGE) DGARCHIVE_COMPOSE_V2=$$v2 \
	  DOCKER=$(DOCKER) $(BIN)/python -m pytest -q -m container tests/container $(PYTEST_ARGS)
