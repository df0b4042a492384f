# One-command set-up. `make run` serves the portal; `make test` runs the whole suite.
# Both create .venv and install the pinned requirements on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help install install-dev run test worker lint format migrate requirements clean

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

worker: install  ## Start a Celery worker with the beat scheduler on every queue (needs REDIS_URL)
	@test -n "$$REDIS_URL" || { echo "Set REDIS_URL: without a broker tasks already run in-process."; exit 1; }
	$(BIN)/celery -A billing_portal worker --beat --queues default,panels,backups --loglevel INFO

migrate: install  ## Apply database migrations
	$(BIN)/python manage.py migrate --noinput

lint: install-dev  ## ruff check, ruff format --check, makemigrations --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run

format: install-dev  ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

requirements: install-dev  ## Re-pin requirements*.txt from requirements*.in
	$(BIN)/pip-compile -q --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o requirements.txt requirements.in
	$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links -o requirements-dev.txt requirements-dev.in
	sed -i '1i -r requirements.txt' requirements-dev.txt

clean:  ## Remove the virtualenv, the SQLite database and collected static files
	rm -rf $(VENV) db.sqlite3 staticfiles test-artifacts .pytest_cache
