# digits course: `make course` runs every notebook in full mode, `make test` runs the tests.
# Each target calls the Python entry point helpers/course.py (`python -m helpers.course`), which
# works without make too (Windows): it uses the active virtual or conda environment if there is
# one, else creates .venv here, and installs requirements.txt when it changed.
.DEFAULT_GOAL := help
# The Python that starts the entry point (it re-runs itself with .venv's Python when no
# environment is active): `make test PYTHON=python3.13` picks another one.
PYTHON ?= python3
COURSE := $(PYTHON) -m helpers.course

.PHONY: help env course test lint benchmark clean-scratch site

help:
	@echo "make course     run every notebook in full mode (rewrites outputs, figures/, models/);"
	@echo "                NB=\"06 07\" runs only those notebooks and their solutions"
	@echo "make test       run the test suite in quick mode (unit tests + notebooks with nbval)"
	@echo "make benchmark  train the keras-io reference and the course models; write results/benchmark.{json,md}"
	@echo "make site       build the course website into site/_build/html (notebooks not executed; the first"
	@echo "                build installs the drawing demo's runtime with npm ci)"
	@echo "make lint       ruff over helpers/ and tests/"
	@echo "Without make: python -m helpers.course [NN ...], python -m helpers.course --test"

# Create or update the environment only (requirements.txt and the helpers package).
env:
	$(COURSE) --python -c "import sys; print('environment ready:', sys.prefix)"

course:
	$(COURSE) $(NB)

test:
	$(COURSE) --test

# The course's own run (DIGITS_COURSE_RUN=1, no DIGITS_QUICK or DIGITS_OUTPUT_DIR), like `make course`.
benchmark:
	$(COURSE) --benchmark

lint:
	$(COURSE) --python -m ruff check helpers tests conftest.py

# The course website, built from the committed notebooks (never executed), in site/_build/html.
# site/build.py runs `npm ci` first when node_modules/ lacks the drawing demo's runtime
# (onnxruntime-web, pinned in package-lock.json) and copies the files the demo needs.
site:
	$(COURSE) --python site/build.py

clean-scratch:
	rm -rf scratch
