# The first two targets are what a newcomer runs (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest clean sim

demo: $(STAMP)  ## run a real diagnosis of a failed live migration on an embedded simulated region
	$(BIN)/migrate-diag demo

test: $(STAMP)  ## lint, type-check, and run the test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e '.[sim]' --group dev
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

sim: $(STAMP)  ## run a simulated region in the foreground (SCENARIO=name)
	$(BIN)/migrate-diag sim up --scenario $(or $(SCENARIO),libvirt-tls-expired-cert) --state-dir state

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache demo-thread.html
