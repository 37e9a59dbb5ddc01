# The two commands a user needs: `make lab` opens the course, `make test` runs every test.
# Both create .venv on first use (only Python 3.10+ and make are needed on the machine).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.fork110-installed
NBVAL  := --nbval --nbval-sanitize-with notebooks/sanitize.cfg --nbval-cell-timeout=120

.PHONY: lab test lint typecheck pytest nbval notebooks bench clean venv pythons

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "fork110 needs Python 3.10 or newer; run: make PYTHON=python3.x ...")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# JupyterLab settings for the course (no "get Jupyter news?" pop-up, no update check, the
# notebook's kernel starts without asking): the app-level overrides.json inside the venv.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json

$(LAB_SETTINGS): jupyter/overrides.json $(STAMP)
	@mkdir -p $(dir $@)
	cp jupyter/overrides.json $@

lab: $(STAMP) $(LAB_SETTINGS)
	@# No display (ssh, container, CI): do not try to open a browser; Jupyter prints the URL to open.
	@# As root (a container, a class VM) Jupyter refuses to start without --allow-root.
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks \
	    $$( [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ] || [ "$$(uname)" = Darwin ] || echo --no-browser ) \
	    $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) \
	    --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate $(LAB_ARGS)

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

# The Command and sandbox tests on every Python 3.10+ found under ~/.pyenv/versions and /opt/python3*
# (each in its own venv, .venv-pythons/X.Y.Z, with the package installed editable, so the sandbox's
# `python -m fork110.sandbox` imports it); the Command tests run under both engines.
PYTHONS_TESTS := tests/test_command.py tests/test_child.py tests/test_engine.py tests/test_stdio.py \
                 tests/test_status.py tests/test_errors.py tests/test_init.py
pythons:
	@found=""; failed=""; \
	for py in $$HOME/.pyenv/versions/*/bin/python3 /opt/python3*/bin/python3; do \
	    [ -x "$$py" ] || continue; \
	    "$$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || continue; \
	    v=$$("$$py" -c 'import platform; print(platform.python_version())'); \
	    found="$$found $$v"; env=.venv-pythons/$$v; \
	    echo "== Python $$v ($$py) =="; \
	    if [ ! -x $$env/bin/python ] || [ pyproject.toml -nt $$env/.installed ]; then \
	        "$$py" -m venv $$env && $$env/bin/python -m pip install --quiet -e . pytest hypothesis psutil \
	            && touch $$env/.installed || { failed="$$failed $$v(install)"; continue; }; \
	    fi; \
	    $$env/bin/python -m pytest -q -p no:cacheprovider $(PYTHONS_TESTS) tests/test_sandbox.py \
	        || failed="$$failed $$v"; \
	    FORK110_ENGINE=portable $$env/bin/python -m pytest -q -p no:cacheprovider $(PYTHONS_TESTS) \
	        || failed="$$failed $$v(portable)"; \
	done; \
	echo "Pythons found:$${found:- none}"; \
	if [ -n "$$failed" ]; then echo "FAILED on:$$failed"; exit 1; fi

# Re-execute every notebook in place, storing fresh outputs (run after changing the package).
notebooks: $(STAMP)
	$(PY) -m fork110._notebooks notebooks/*.ipynb

bench: $(STAMP)
	$(PY) bench/spawn.py
	@for b in bench/*.py; do [ "$$b" = bench/spawn.py ] || $(PY) $$b; done

clean:
	rm -rf $(VENV) .venv-pythons .pytest_cache .mypy_cache .ruff_cache .hypothesis bench/_build
