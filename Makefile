# Portal — the two commands a fresh machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
VENDOR := portal/web/static/vendor

.PHONY: run test lint format assets install install-test browser clean

run: install assets ## Install, migrate and serve the portal on 127.0.0.1:$(PORT) with SQLite.
	$(BIN)/portal migrate
	$(BIN)/portal serve --host 127.0.0.1 --port $(PORT)

test: install-test assets browser ## Run every test on SQLite, and on PostgreSQL if PORTAL_TEST_DATABASE_URL is set.
	PORTAL_TEST_DATABASE_URL= $(BIN)/pytest
	@if [ -n "$$PORTAL_TEST_DATABASE_URL" ]; then \
		echo "== again on PostgreSQL"; $(BIN)/pytest; \
	fi

lint: install-test ## ruff (lint and format) and mypy.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

install-test: $(VENV)/.installed-test
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $@ $(VENV)/.installed

# htmx, Pico CSS and Swagger UI come from the npm registry and are served from our own origin.
assets: $(VENDOR)/.copied
$(VENDOR)/.copied: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js \
	   node_modules/@picocss/pico/css/pico.classless.min.css \
	   node_modules/swagger-ui-dist/swagger-ui.css \
	   node_modules/swagger-ui-dist/swagger-ui-bundle.js $(VENDOR)/
	touch $@

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache
