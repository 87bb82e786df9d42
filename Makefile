# LedgerLink Billing — everything starts here. Needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run test venv serve worker lint format schema typecheck clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	touch $(STAMP)

venv: $(STAMP)  ## create .venv with the locked dependencies

run: $(STAMP)  ## run the server on SQLite with demo data at http://127.0.0.1:8000/ (another port: make run PORT=8001)
	@$(BIN)/python -m backend.portcheck $(HOST) $(PORT)
	DEBUG=1 GRAPHIQL_ENABLED=1 $(BIN)/python manage.py migrate --no-input
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 GRAPHIQL_ENABLED=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(STAMP)  ## run the whole test suite (SQLite; set DATABASE_URL for PostgreSQL)
	$(BIN)/pytest

serve: $(STAMP)  ## production server: gunicorn (WEB_CONCURRENCY workers) serving the app and its static files
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(BIN)/gunicorn backend.wsgi -c backend/gunicorn.conf.py

worker: $(STAMP)  ## a Celery worker (needs CELERY_BROKER_URL)
	$(BIN)/celery -A backend worker -l info

typecheck: $(STAMP)  ## mypy over billing/ with the Django stubs
	$(BIN)/mypy

lint: $(STAMP)  ## ruff lint + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(STAMP)  ## regenerate schema.graphql from the live GraphQL schema
	$(BIN)/python manage.py export_schema graphql_schema.schema --path schema.graphql

clean:  ## remove the virtual environment and local database
	rm -rf $(VENV) db.sqlite3 .pytest_cache .ruff_cache .mypy_cache .hypothesis
