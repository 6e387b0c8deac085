# Two commands for a newcomer:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_TENANTS ?= 100000

.PHONY: demo test venv lint clean bench

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

## demo: SQLite, no servers: 1.0 -> 1.3 and back to 1.0 exactly on the command line, then
## the admin, where the console applies 1.1 -> 1.3 again. MIGRATOR_DEMO_NO_SERVE=1: exit.
demo: venv
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py demo_data --tenants $(DEMO_TENANTS)
	$(PY) manage.py migrator sync
	$(PY) manage.py migrator apply --yes
	$(PY) manage.py migrator rollback --to 1.0.1 --yes
	$(PY) manage.py migrator apply --database analytics --yes
	$(PY) manage.py migrator status
	$(PY) manage.py demo_login
	@if [ "$$MIGRATOR_DEMO_NO_SERVE" = "1" ]; then echo "MIGRATOR_DEMO_NO_SERVE=1: not serving"; \
	else $(PY) manage.py runserver 127.0.0.1:8000; fi

## test: lint, types and the whole suite on SQLite and PostgreSQL (servers started for it).
test: venv
	scripts/test.sh

lint: venv
	$(PY) -m ruff check . && $(PY) -m ruff format --check . && $(PY) -m mypy migrator project

clean:
	rm -rf $(VENV) var build *.egg-info

## bench: the benchmarks under bench/ on a throwaway PostgreSQL (ratios, exit 1 if a target is missed).
bench: venv
	scripts/bench.sh
