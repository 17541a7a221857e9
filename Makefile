# The two commands a new user needs are `make run` and `make test`; everything else is
# provisioned on demand. Runtime state (database, broker, jars, logs) lives in .local/.

SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
UV := .local/uv/bin/uv
VENV := .venv
POS := $(VENV)/bin/pos
PYTEST := $(VENV)/bin/pytest
PYTEST_ARGS ?=
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: help venv infra-up infra-down run test coverage lint format bench bench-faults chaos chaos-replicated clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# uv is bootstrapped into .local with the machine's python3, so a fresh machine needs only
# Python 3.11; the lock file pins every dependency.
$(UV):
	@command -v python3 >/dev/null || { echo "python3 (3.11) is required"; exit 1; }
	python3 -m venv .local/uv
	.local/uv/bin/pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python python3.11
	@touch $@

venv: $(VENV)/.synced ## create .venv from the lock file

infra-up: venv ## start local PostgreSQL + Kafka (what is missing), migrate, create topics
	$(POS) infra up

infra-down: venv ## stop the local PostgreSQL + Kafka that infra-up started
	$(POS) infra down

run: infra-up ## provision everything and run the whole pipeline (Ctrl-C stops it)
	$(POS) dev

lint: venv ## ruff and mypy
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

format: venv
	$(VENV)/bin/ruff check --fix src tests bench
	$(VENV)/bin/ruff format src tests bench

# Three workers (pytest-xdist), each with its own database and topics; a file stays on one
# worker (the scheduler is in tests/conftest.py). On two cores, two workers left the CPU
# idle 12 % of the run (tests waiting on failovers, restarts, quiet periods) and three 3 %
# (sampled each second). PYTEST_WORKERS=0 runs in this process.
# Exit code 5 means the selection held no test (e.g. PYTEST_ARGS="-k nothing"): not a failure.
PYTEST_WORKERS ?= 3
# Lint runs while PostgreSQL and Kafka start (mostly waiting on their processes), and
# fails the run before pytest does.
test: venv ## provision everything and run the whole suite with coverage
	@mkdir -p .local; $(MAKE) --no-print-directory lint > .local/lint.log 2>&1 & lint=$$!; \
	$(POS) infra up; up=$$?; wait $$lint; linted=$$?; cat .local/lint.log; \
	if [ $$up -ne 0 ] || [ $$linted -ne 0 ]; then exit 1; fi
	@set +e; $(PYTEST) -n $(PYTEST_WORKERS) --cov --cov-report=term $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no test selected"; exit 0; fi; exit $$rc

coverage: infra-up ## run the suite and write the HTML coverage report to htmlcov/
	@set +e; $(PYTEST) --cov --cov-report=term --cov-report=html $(PYTEST_ARGS); rc=$$?; \
	echo "HTML report: htmlcov/index.html"; \
	if [ $$rc -eq 5 ]; then exit 0; fi; exit $$rc

# QUICK=1 gives a smoke run in a few minutes. The libraries measured beside this project
# (the bench-peers group) are installed here only: `make run` and `make test` sync without
# them (and a later plain sync removes them again).
bench: infra-up ## run every benchmark; writes bench/results/latest.{json,md} and charts
	$(UV) sync --frozen --python python3.11 --group bench-peers
	$(VENV)/bin/python -m bench.run $(if $(QUICK),--quick)

bench-faults: infra-up ## 20 orders/s through a 60 s outage, 60 s of late answers, 30 s of 409s; writes bench/results/delivery-faults.*
	$(VENV)/bin/python -m bench.delivery_faults

# Its own scratch PostgreSQL and Kafka (in .local/chaos), so `make run` and tests are never hit.
CHAOS_ORDERS ?= 100000
chaos: venv ## fleet + faults (kills, broker and database restarts), then the auditor; CHAOS_ORDERS=N
	$(POS) chaos --orders $(CHAOS_ORDERS)

# The same on a scratch 3-node Kafka cluster and PostgreSQL pair (in .local/chaos), with
# leader kills, a two-broker outage, a rolling restart, failover and rejoin.
chaos-replicated: venv ## chaos on the replicated topology; writes bench/results/chaos-replicated-latest.*; CHAOS_ORDERS=N
	$(POS) chaos --topology replicated --orders $(CHAOS_ORDERS)

clean: ## remove caches (not the database or broker data: see infra-down)
	rm -rf .pytest_cache .mypy_cache .ruff_cache htmlcov .coverage .coverage.*
