# Portal — the two commands a fresh machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
VENDOR := portal/web/static/vendor

# Python packages are installed by uv at the versions in uv.lock. uv itself comes from PyPI, into
# a virtualenv of its own (.tools/), so a fresh machine needs only Python and make.
UV_VERSION := 0.13.9
TOOLS      := .tools
UV         := $(TOOLS)/bin/uv
UV_STAMP   := $(TOOLS)/.installed-uv-$(UV_VERSION)
# uv trusts the system's certificate store, as pip and curl do, so a proxy's certificate
# authority installed there (or named by SSL_CERT_FILE) is honoured. uv never downloads a
# Python of its own: it uses $(PYTHON).
export UV_SYSTEM_CERTS ?= 1
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON ?= $(PYTHON)

.PHONY: run test lint lock format bench assets install install-test browser peers clean

run: install assets ## Install, migrate and serve the portal on 127.0.0.1:$(PORT) with SQLite.
	$(BIN)/portal migrate
	$(BIN)/portal serve --host 127.0.0.1 --port $(PORT)

# pytest-xdist runs each suite in TEST_WORKERS processes, a test file at a time (--dist loadfile):
# a module's own server and browser start once, in the worker that runs the module; each worker
# has its own databases, servers, ports and temporary folders. With PORTAL_TEST_DATABASE_URL set,
# the PostgreSQL suite runs after the SQLite one (even when that fails); make fails if either does.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --durations=25
test: install-test assets browser peers ## Run every test on SQLite, and on PostgreSQL if PORTAL_TEST_DATABASE_URL is set.
	@$(BIN)/python -m compileall -q portal connectors tests/fixtures >/dev/null
	@status=0; \
	echo "== on SQLite"; \
	PORTAL_TEST_DATABASE_URL= $(PYTEST) || status=1; \
	if [ -n "$$PORTAL_TEST_DATABASE_URL" ]; then \
		echo "== on PostgreSQL"; \
		$(PYTEST) -p no:cacheprovider || status=1; \
	fi; \
	exit $$status

lint: install-test ## uv.lock matches pyproject.toml; ruff (lint and format) and mypy.
	$(UV) lock --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install-test wrk ## Lookups over HTTP (SQLite and PostgreSQL), /healthz latency during picture uploads, feeds ingested and polled, pages of the feed read on PostgreSQL, and a post fanned out to ten networks, as ratios to baselines measured in the same run; written to bench/results/latest.json.
	$(BIN)/python -m tests.bench.bench_lookup
	$(BIN)/python -m tests.bench.bench_avatar
	$(BIN)/python -m tests.bench.bench_feeds
	$(BIN)/python -m tests.bench.bench_timeline
	$(BIN)/python -m tests.bench.bench_fanout

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(UV_STAMP):
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'
	touch $@

# After a change to a dependency in pyproject.toml, `make lock` writes the new uv.lock.
lock: $(UV_STAMP)
	$(UV) lock

# `uv sync` makes .venv match uv.lock. Without the extras it runs --inexact, so that `make run`
# after `make test` keeps the test tools. --compile-bytecode writes every package's .pyc once:
# where PYTHONDONTWRITEBYTECODE is set, Python would otherwise compile them again in every
# process it starts (the server, the CLI, each test worker and each server a test starts).
install: $(VENV)/.installed
$(VENV)/.installed: uv.lock pyproject.toml $(UV_STAMP)
	$(UV) sync --frozen --inexact --compile-bytecode
	touch $@

install-test: $(VENV)/.installed-test
$(VENV)/.installed-test: uv.lock pyproject.toml $(UV_STAMP)
	$(UV) sync --frozen --extra test --extra dev --compile-bytecode
	touch $@ $(VENV)/.installed

# htmx, Swagger UI and the networks' icons (simple-icons, made into one sprite of only our
# networks) come from the npm registry and are served from our own origin; axe-core, a
# devDependency, stays in node_modules, where the accessibility test (test_browser_axe.py) reads it.
assets: $(VENDOR)/.copied
$(VENDOR)/.copied: package.json package-lock.json portal/web/icons.py
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js \
	   node_modules/swagger-ui-dist/swagger-ui.css \
	   node_modules/swagger-ui-dist/swagger-ui-bundle.js $(VENDOR)/
	$(PYTHON) -m portal.web.icons node_modules/simple-icons/icons $(VENDOR)/networks.svg
	touch $@

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The load generator of the lookup benchmark: Debian's wrk.
.PHONY: wrk
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# Real servers the tests talk to, installed under .peers/ (see tests/fixtures/peers.py).
PEERS := .peers
peers: peers-oidc peers-matrix peers-xmpp peers-imap peers-atproto

# Matrix homeserver: Synapse from PyPI, in a virtualenv of its own (its pins are not ours).
SYNAPSE_VERSION := 1.163.2
.PHONY: peers-matrix
peers-matrix: $(PEERS)/synapse/.installed-$(SYNAPSE_VERSION)
$(PEERS)/synapse/.installed-$(SYNAPSE_VERSION):
	rm -rf $(PEERS)/synapse
	$(PYTHON) -m venv $(PEERS)/synapse
	$(PEERS)/synapse/bin/pip install --quiet --disable-pip-version-check \
		'matrix-synapse==$(SYNAPSE_VERSION)'
	touch $@

# XMPP server: Debian's Prosody, run by tests/fixtures/xmpp.py with its own configuration, data
# and port; the system service the package may start is stopped so it holds no port.
.PHONY: peers-xmpp
peers-xmpp:
	@command -v prosody >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prosody >/dev/null; \
		service prosody stop >/dev/null 2>&1 || true; }

# IMAP server: Debian's Dovecot, run by tests/fixtures/imap.py with its own configuration, mail
# and port; the system service the package may start is stopped so it holds no port.
.PHONY: peers-imap
peers-imap:
	@command -v dovecot >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null; \
		service dovecot stop >/dev/null 2>&1 || true; }

# OpenID Connect provider: oidc-provider from the npm registry, into tests/peers/oidc/node_modules
# (where server.mjs finds it); installed again when the lock changes or node_modules is gone.
OIDC_PEER := tests/peers/oidc
.PHONY: peers-oidc peers-oidc-missing
peers-oidc: $(PEERS)/oidc.installed
$(PEERS)/oidc.installed: $(OIDC_PEER)/package.json $(OIDC_PEER)/package-lock.json \
		$(if $(wildcard $(OIDC_PEER)/node_modules/oidc-provider/package.json),,peers-oidc-missing)
	npm ci --prefix $(OIDC_PEER) --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p $(PEERS)
	touch $@

# AT Protocol network (PLC directory + PDS): @atproto/dev-env from the npm registry, into
# tests/peers/atproto/node_modules. Install scripts run: better-sqlite3 compiles (~1-2 min).
ATPROTO_PEER := tests/peers/atproto
.PHONY: peers-atproto peers-atproto-missing
peers-atproto: $(PEERS)/atproto.installed
$(PEERS)/atproto.installed: $(ATPROTO_PEER)/package.json $(ATPROTO_PEER)/package-lock.json \
		$(if $(wildcard $(ATPROTO_PEER)/node_modules/better-sqlite3/build/Release/better_sqlite3.node),,peers-atproto-missing)
	npm ci --prefix $(ATPROTO_PEER) --no-audit --no-fund --loglevel=error
	mkdir -p $(PEERS)
	touch $@

clean:
	rm -rf $(VENV) $(TOOLS) $(PEERS) node_modules $(OIDC_PEER)/node_modules $(ATPROTO_PEER)/node_modules \
		$(VENDOR) .pytest_cache .mypy_cache .ruff_cache
