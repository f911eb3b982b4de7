# The README's commands. Each target builds .venv from uv.lock first (nothing else needs to be installed).
PYTHON ?= python3.11
VENV := .venv
UV_VERSION := 0.13.8
OUT ?= demo-output

.PHONY: demo test lint bench clean

$(VENV)/.synced: uv.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv sync --frozen --quiet
	touch $@

demo: $(VENV)/.synced
	$(VENV)/bin/jingzhun demo --out $(OUT)

test: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
