# One-command set-up. `make run` serves the portal; `make test` runs the whole suite.
# Both create .venv and install the pinned requirements on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install install-dev run test bench worker beat lint audit format migrate requirements clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(PIP) install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

install: $(VENV)/.runtime-installed  ## Create .venv with the runtime requirements

install-dev: $(VENV)/.dev-installed  ## Create .venv with runtime and test requirements

# The embedded default: SQLite and in-process tasks unless DATABASE_URL / REDIS_URL are set.
# PORT is exported so that links in emails and seed_demo's output use the port served.
run: export DEBUG ?= true
run: export PORT := $(PORT)
run: install  ## Migrate, seed demo data and serve http://127.0.0.1:8000 (PORT=8001 for another port)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install-dev  ## Run the whole test suite (PostgreSQL if DATABASE_URL is set, else SQLite)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Each benchmark prints its ratios against an interleaved baseline and exits 1 when it misses
# a target (2 when it cannot measure); every one runs, and the target fails if any did.
BENCHES ?= ledger billing_run webhooks pages bench_reports
bench: install-dev  ## Run the benchmarks under bench/ (PostgreSQL and Redis reachable; BENCHES=ledger for one)
	@status=0; for name in $(BENCHES); do $(BIN)/python bench/$$name.py || status=1; done; exit $$status

# Workers and beat need a broker: REDIS_URL (or CELERY_BROKER_URL), from the environment or
# .env, which is why the settings are asked rather than the shell.
BROKER_CHECK = $(BIN)/python manage.py shell -v 0 -c "from django.conf import settings; \
	raise SystemExit(settings.CELERY_BROKER_URL.startswith('memory:') and \
	'Set REDIS_URL (environment or .env): without a broker tasks already run in-process.')"

# The same development defaults as `make run` (DEBUG on unless set).
worker: export DEBUG ?= true
worker: install  ## Start a Celery worker on every queue (needs REDIS_URL; beat is `make beat`)
	@$(BROKER_CHECK)
	$(BIN)/celery -A billing_portal worker --queues default,panels,backups --loglevel INFO

# One beat per deployment: RedBeat keeps the schedule and a lock in Redis, so a second beat
# only waits for the lock.
beat: export DEBUG ?= true
beat: install  ## Start the periodic-task scheduler (needs REDIS_URL; one per deployment)
	@$(BROKER_CHECK)
	$(BIN)/celery -A billing_portal beat --loglevel INFO

migrate: install  ## Apply database migrations
	$(BIN)/python manage.py migrate --noinput

lint: install-dev  ## ruff check, ruff format --check, layer contracts, mypy, makemigrations --check, hadolint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DEBUG=true $(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run

audit: install-dev  ## Known vulnerabilities in the pinned requirements (pip-audit; an unreachable service only warns)
	$(BIN)/python .ci/pip_audit.py requirements-dev.txt

format: install-dev  ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

requirements: install-dev  ## Re-pin requirements*.txt from requirements*.in
	$(BIN)/pip-compile -q --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o requirements.txt requirements.in
	$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links -o requirements-dev.txt requirements-dev.in
	sed -i '1i -r requirements.txt' requirements-dev.txt

clean:  ## Remove the virtualenv, the SQLite database and collected static files
	rm -rf $(VENV) db.sqlite3 staticfiles test-artifacts .pytest_cache
