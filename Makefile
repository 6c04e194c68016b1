# Two commands: `make run` and `make test`. Both create .venv and install the project when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench setup clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/fengqiao $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q -n auto $(ARGS)

bench: $(STAMP)
	$(PY) -m tests.benchmarks $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
