# LabelForce: `make demo` serves a demo operation; `make test` runs the suite.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

# The test and CI runs need a key; it signs nothing that outlives the run.
TEST_ENV := SECRET_KEY=$${SECRET_KEY:-test-only-not-secret} DJANGO_SECURE_SSL_REDIRECT=0

.PHONY: install demo serve test lint fmt messages check-deploy bench bench-sequential bench-load clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput -v 0
	DJANGO_DEBUG=1 $(PY) manage.py seed_demo --base-url http://$(HOST):$(PORT)
	@echo "Serving the admin at http://$(HOST):$(PORT)/admin/ and the API at http://$(HOST):$(PORT)/api/docs/"
	DJANGO_DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

test: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The translation catalogue (locale/): collect every marked string, then compile. Translate the
# new entries of locale/pt_PT/LC_MESSAGES/django.po between the two steps.
MESSAGES_IGNORE := --ignore=.venv --ignore=tests --ignore=bench --ignore=demo --ignore=staticfiles --ignore=var
messages: $(STAMP)
	SECRET_KEY=messages $(PY) manage.py makemessages -l pt_PT --no-obsolete --add-location=file $(MESSAGES_IGNORE)
	SECRET_KEY=messages $(PY) manage.py compilemessages -l pt_PT --ignore=.venv

# Production settings must pass Django's deployment checks without a single warning.
check-deploy: $(STAMP)
	env -u DJANGO_SECURE_SSL_REDIRECT -u DJANGO_SECURE_COOKIES -u DJANGO_HSTS_SECONDS \
	DJANGO_DEBUG=0 SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))') \
	ALLOWED_HOSTS=labelforce.example.com \
	$(PY) manage.py check --deploy --fail-level WARNING

# Benchmarks write their figures into BENCHMARKS.md; the load and import ones need PostgreSQL.
bench: bench-sequential bench-load

bench-sequential: $(STAMP)
	$(PY) bench/sequential_qualification.py

bench-load: $(STAMP)
	$(PY) bench/next_task_load.py --tasks 10000 100000 1000000 --concurrency 1 8 32

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
