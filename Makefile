# Two commands: `make run` and `make test`. Both create .venv and install the project when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench check wheel-check setup clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/fengqiao $(ARGS)

# Two test workers per core: most of the suite is Pilot tests that wait for the app to go idle, not CPU-bound
# (measured on 2 cores: the Pilot-heavy files take 46 s with 4 workers against 57 s with 2).
WORKERS ?= $(shell $(PYTHON) -c "import os; print(2 * (os.cpu_count() or 1))")
# Byte-code caches on for the tests (some shells export PYTHONDONTWRITEBYTECODE=1): without them every worker and
# every process a test starts compiles the project and re-rewrites the test modules' asserts (measured on 2 cores:
# make test 375 s with the variable set, 318 s without, from a clean tree). The caches land in __pycache__/, ignored.
test: export PYTHONDONTWRITEBYTECODE =
test: $(STAMP)
	$(PY) -m pytest -q -n $(WORKERS) --dist worksteal $(ARGS)

# Lint, format check, types and import contracts. mypy reads .venv/typecheck/fengqiao, links to the top-level folders
# (they install as fengqiao.* through package-dir, which mypy cannot follow from the source tree).
TYPECHECK := $(VENV)/typecheck/fengqiao
check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@mkdir -p $(TYPECHECK) && for p in console models screens store server fixtures; do ln -sfn ../../../$$p $(TYPECHECK)/$$p; done
	cd $(VENV)/typecheck && ../bin/mypy --config-file ../../pyproject.toml -p fengqiao
	$(VENV)/bin/lint-imports

# The wheel has one top-level package, fengqiao, and a pipx install of it works in a clean environment.
wheel-check: $(STAMP)
	bash .ci/wheel-check

bench: $(STAMP)
	$(PY) -m tests.benchmarks $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
