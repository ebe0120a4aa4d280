# commissim quick start (README): `make run` installs and runs the main job,
# `make test` installs and runs the tests. Both create .venv with Python >= 3.12.
VENV ?= .venv
PY := $(VENV)/bin/python
# First Python >= 3.12 found: python3.13, python3.12, pyenv's 3.13/3.12, then python3.
PYTHON ?= $(shell for p in python3.13 python3.12 $$HOME/.pyenv/versions/3.13*/bin/python3.13 \
	$$HOME/.pyenv/versions/3.12*/bin/python3.12 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; \
	then echo $$p; break; fi; done)

.PHONY: run test install clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
	  echo "commissim needs Python >= 3.12 (Mesa 3.5 does). Install one (e.g. 'pyenv install 3.12'," >&2; \
	  echo "or your OS package python3.12) and re-run, or pass PYTHON=/path/to/python3.12." >&2; exit 1; fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

run: install
	$(VENV)/bin/commissim compare

test: install
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
