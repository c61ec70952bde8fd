# Two commands matter: `make run` (embedded platform) and `make test` (the whole suite).
# `make test-fast` is the services-free lane for the edit-test loop (docs/testing.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export DATABASE_URL_TEST ?= postgres://postgres@127.0.0.1:5432/trading
export REDIS_URL_TEST ?= redis://127.0.0.1:6379/0
# pytest-xdist workers. `make test-fast`: one per CPU, at most 4. `make test`: as many, at most 2, for
# the tests that keep a core busy, plus TEST_WAIT_LANES workers that start on the process tests, which
# mostly wait on the processes they start (tests/scheduling.py). At most 5 in all: each worker takes a
# Redis database (REDIS_URL's and the next ones) and two private ones from 15 down
# (trading_site/settings_test.py, tests/processes.py). TEST_WORKERS=0 runs in one process.
CPUS := $(shell n=$$(nproc 2>/dev/null || echo 1); [ "$$n" -gt 4 ] && n=4; echo $$n)
TEST_WAIT_LANES ?= 3
TEST_WORKERS ?= $(shell n=$(CPUS); [ "$$n" -gt 2 ] && n=2; echo $$((n + $(TEST_WAIT_LANES))))
FAST_WORKERS ?= $(CPUS)
# Coverage floor of the whole code base; per-group floors: [tool.coverage_gate] in pyproject.toml.
COVERAGE_FLOOR ?= 80
XDIST = $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist load,)
XDIST_FAST = $(if $(filter-out 0,$(FAST_WORKERS)),-n $(FAST_WORKERS) --dist load,)

.PHONY: run run-check soak test test-fast lint format check-services chromium migrate demo bench clean help venv

help:
	@echo "make run    - install, set up and start the platform (embedded: SQLite, simulated broker)"
	@echo "make test   - install dev deps and run ruff, the migrations check and the whole pytest suite"
	@echo "              (xdist workers: TEST_WORKERS=$(TEST_WORKERS), TEST_WAIT_LANES=$(TEST_WAIT_LANES) of them for process tests), with the coverage floors"
	@echo "make test-fast - the suite without PostgreSQL, Redis or Chromium (SQLite; not slow/postgres/redis)"
	@echo "make lint   - ruff, the layers contract (lint-imports) and the function-level import rule"
	@echo "make bench  - run the benchmarks in bench/ and write bench/results.json"
	@echo "make soak   - 10 minutes of the embedded platform under load (bench/soak.py, into bench/results.json)"

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (Django 5.2 LTS); set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.base-installed: $(BIN)/python requirements/base.txt
	$(BIN)/pip install -q -r requirements/base.txt
	touch $@

$(VENV)/.dev-installed: $(BIN)/python requirements/base.txt requirements/dev.txt
	$(BIN)/pip install -q -r requirements/dev.txt
	touch $@ $(VENV)/.base-installed

venv: $(VENV)/.base-installed

migrate: $(VENV)/.base-installed
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py setup_demo

run: SIM_MARKET_HOURS ?= always
run: export SIM_MARKET_HOURS := $(SIM_MARKET_HOURS)
run: run-check demo
	$(BIN)/python manage.py run_platform --port $(PORT)

# A second `make run` (or one during a long write on the SQLite file) stops here with one sentence.
run-check: $(VENV)/.base-installed
	@$(BIN)/python -m trading_site.instance

chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "Installing Debian's chromium for the browser tests..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Headless Chromium is missing. Install it with:  sudo apt-get install -y chromium"; exit 1; \
	fi

check-services: $(VENV)/.dev-installed
	@DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} REDIS_URL=$${REDIS_URL:-$(REDIS_URL_TEST)} \
		$(BIN)/python -m trading_site.check_services

# ruff, the layers contract (.importlinter) and the rule on imports inside functions (ADR 0029).
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python tools/check_local_imports.py

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(VENV)/.dev-installed chromium check-services lint
	DJANGO_SETTINGS_MODULE=trading_site.settings_test $(BIN)/python manage.py makemigrations --check --dry-run
	@rm -f coverage.json
	@# Bytecode and pytest's rewritten test modules written once, before the workers start: each worker
	@# compiles the whole suite otherwise (~7 CPU-s) when PYTHONDONTWRITEBYTECODE is set (docs/testing.md).
	@# A serial run (TEST_WORKERS=0) compiles once anyway.
	$(if $(filter-out 0,$(TEST_WORKERS)),DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} PYTHONDONTWRITEBYTECODE= \
		$(BIN)/pytest --collect-only -q -p no:cacheprovider > /dev/null,@true)
	@# The per-group gate prints its figures even when pytest failed (tests or the overall floor).
	DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} REDIS_URL=$${REDIS_URL:-$(REDIS_URL_TEST)} PYTHONDONTWRITEBYTECODE= \
		TEST_WAIT_LANES=$(if $(filter-out 0,$(TEST_WORKERS)),$(TEST_WAIT_LANES),0) $(BIN)/pytest $(XDIST) --cov --cov-report=term-missing:skip-covered --cov-report=json:coverage.json \
		--cov-fail-under=$(COVERAGE_FLOOR) $(PYTEST_ARGS); status=$$?; \
	$(BIN)/python tools/coverage_gate.py coverage.json || status=1; exit $$status

# The services-free lane (SQLite, local-memory cache): no PostgreSQL, Redis or Chromium; under a minute.
# Startup is a large share of it, in each xdist worker (docs/testing.md, "make test-fast"):
# - the test database is built from the models (--no-migrations; tests/fresh_database.py adds the
#   migrations' triggers and seeded rows);
# - bytecode, and pytest's rewritten test modules, are cached in var/pycache, also where
#   PYTHONDONTWRITEBYTECODE is set: compiling them at each run took ~7 s per worker;
# - the browser tests and schemathesis's (all slow) are not even collected, nor their plugins loaded:
#   schemathesis builds its cases at collection, ~3 s per worker.
TEST_FAST_SKIP = -p no:playwright -p no:schemathesis --ignore=tests/browser --ignore=tests/test_api_schemathesis.py
test-fast: $(VENV)/.dev-installed
	DJANGO_SETTINGS_MODULE=trading_site.settings_test_fast PYTHONDONTWRITEBYTECODE= \
		PYTHONPYCACHEPREFIX=$(CURDIR)/var/pycache $(BIN)/pytest $(XDIST_FAST) -p no:cacheprovider --no-migrations \
		$(TEST_FAST_SKIP) -m "not slow and not postgres and not redis" $(PYTEST_ARGS)

bench: $(VENV)/.dev-installed check-services
	DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} REDIS_URL=$${REDIS_URL:-$(REDIS_URL_TEST)} \
		$(BIN)/python -m bench.run

# 10 minutes of the embedded platform under steady trading with a replay alongside (bench/soak.py);
# its figures are merged into bench/results.json. SOAK_SECONDS=120 make soak for a short one.
soak: $(VENV)/.dev-installed
	$(BIN)/python -m bench.soak

clean:
	rm -rf var/celery var/cache var/test var/pycache bench/results.json .coverage .coverage.* coverage.json
