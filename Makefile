# digits course: `make course` runs every notebook in full mode, `make test` runs the tests.
# Both use the active virtual/conda environment if there is one, else create .venv here.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ifneq ($(strip $(VIRTUAL_ENV)$(CONDA_PREFIX)),)
  PY := python
  STAMP := .active-env-installed
else
  PY := .venv/bin/python
  STAMP := .venv/.installed
endif
JUPYTER := $(PY) -m jupyter
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
SOLUTIONS := $(sort $(wildcard notebooks/solutions/*.ipynb))

.PHONY: help env course test lint benchmark clean-scratch site

help:
	@echo "make course   run every notebook in full mode (rewrites outputs, figures/, models/)"
	@echo "make test     run the test suite in quick mode (unit tests + notebooks with nbval)"
	@echo "make benchmark  train the keras-io reference and the course models; write results/benchmark.{json,md}"
	@echo "make site     build the course website into site/_build/html (notebooks not executed; the first"
	@echo "              build installs the drawing demo's runtime with npm ci)"
	@echo "make lint     ruff over helpers/ and tests/"

$(STAMP): requirements.txt pyproject.toml
	@if [ "$(PY)" = ".venv/bin/python" ] && [ ! -x .venv/bin/python ]; then \
	  echo "Creating .venv (no active environment found)"; python3 -m venv .venv; fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -e .
	@touch $@

env: $(STAMP)

course: env
	@for nb in $(NOTEBOOKS) $(SOLUTIONS); do \
	  echo "== $$nb"; start=$$(date +%s); \
	  env -u DIGITS_QUICK -u DIGITS_OUTPUT_DIR $(JUPYTER) nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=-1 --log-level=WARN "$$nb" || exit 1; \
	  echo "   done in $$(( $$(date +%s) - start )) s"; \
	done

test: env
	DIGITS_QUICK=1 $(PY) -m pytest

benchmark: env
	env -u DIGITS_QUICK -u DIGITS_OUTPUT_DIR $(PY) -m helpers.benchmark

lint: env
	$(PY) -m ruff check helpers tests conftest.py

# The course website, built from the committed notebooks (never executed), in site/_build/html.
# site/build.py runs `npm ci` first when node_modules/ lacks the drawing demo's runtime
# (onnxruntime-web, pinned in package-lock.json) and copies the files the demo needs.
site: env
	$(PY) site/build.py

clean-scratch:
	rm -rf scratch
