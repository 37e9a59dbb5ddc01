# The two commands a user needs: `make lab` opens the course, `make test` runs every test.
# Both create .venv on first use (only Python 3.10+ and make are needed on the machine).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.fork110-installed
NBVAL  := --nbval --nbval-sanitize-with notebooks/sanitize.cfg --nbval-cell-timeout=120

.PHONY: lab test lint typecheck pytest nbval notebooks bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "fork110 needs Python 3.10 or newer; run: make PYTHON=python3.x ...")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

lab: $(STAMP)
	@# No display (ssh, container, CI): do not try to open a browser; Jupyter prints the URL to open.
	@# As root (a container, a class VM) Jupyter refuses to start without --allow-root.
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks \
	    $$( [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] || [ "$$(uname)" = Darwin ] || echo --no-browser ) \
	    $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) $(LAB_ARGS)

test: lint typecheck pytest nbval

lint: $(STAMP)
	$(VENV)/bin/ruff check fork110 tests bench
	$(VENV)/bin/ruff format --check fork110 tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# COMMAND_TESTS run a second time under the portable engine (public APIs only; see fork110/_engine.py)
COMMAND_TESTS := tests/test_command.py tests/test_child.py tests/test_engine.py tests/test_stdio.py \
                 tests/test_status.py fork110/_engine.py fork110/_command.py fork110/_child.py

pytest: $(STAMP)
	$(PY) -m pytest
	FORK110_ENGINE=portable $(PY) -m pytest -p no:cacheprovider $(COMMAND_TESTS)

nbval: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider $(NBVAL) notebooks

# Re-execute every notebook in place, storing fresh outputs (run after changing the package).
notebooks: $(STAMP)
	$(PY) -m fork110._notebooks notebooks/*.ipynb

bench: $(STAMP)
	$(PY) bench/spawn.py
	@for b in bench/*.py; do [ "$$b" = bench/spawn.py ] || $(PY) $$b; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis bench/_build
