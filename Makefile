# The README's commands. Each target builds .venv from uv.lock first (nothing else needs to be installed).
PYTHON ?= python3.11
VENV := .venv
UV_VERSION := 0.13.8
OUT ?= demo-output

.PHONY: demo test lint browser clean

$(VENV)/.synced: uv.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv sync --frozen --quiet
	touch $@

demo: $(VENV)/.synced
	$(VENV)/bin/jingzhun demo --out $(OUT)

# The report is checked in a real headless Chromium, from Debian's packages, with CJK fonts to render it.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

test: $(VENV)/.synced browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
