# The README's commands. Each target builds .venv from uv.lock first (nothing else needs to be installed).
PYTHON ?= python3.11
VENV := .venv
UV_VERSION := 0.13.8
OUT ?= demo-output

.PHONY: demo test lint bench bench-scale browser model print-tools screenshots clean

# --compile-bytecode: the libraries' bytecode is written once here, not compiled again by every run where Python may
# not write it (PYTHONDONTWRITEBYTECODE, a read-only install): Prefect's server, Great Expectations and Splink
# otherwise cost a `jingzhun run` tens of seconds of compiling before any work.
$(VENV)/.synced: uv.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv sync --frozen --quiet --compile-bytecode
	touch $@

demo: $(VENV)/.synced
	$(VENV)/bin/jingzhun demo --out $(OUT)

# The report is checked in a real headless Chromium, from Debian's packages, with CJK fonts to render it.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

test: $(VENV)/.synced browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/python -m pytest

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Speed and accuracy figures, printed (benchmarks/*.py; nothing is asserted). The scale benchmark is apart.
bench: $(VENV)/.synced
	@for script in $(filter-out benchmarks/scale.py,$(wildcard benchmarks/*.py)); do \
		echo "== $$script"; $(VENV)/bin/python $$script || exit 1; done

# The daily flow at a city's size, beside generic Splink and a naive loop (benchmarks/scale.py; hours at full size:
# 1M and 10M persons, days of 10k, 100k and 1M rows). `make bench-scale SCALE=--quick` for 10k and 100k rows
# against 1M persons. The generated data is cached in .bench-cache/.
SCALE ?=
bench-scale: $(VENV)/.synced
	$(VENV)/bin/python benchmarks/scale.py $(SCALE)

# The committed person-linkage model: trained (EM, no labels) on a synthetic training day of its own seed,
# so that evaluations on other seeds measure data the model has not seen.
MODEL_TRAINING := .model-training
model: $(VENV)/.synced
	rm -rf $(MODEL_TRAINING)
	$(VENV)/bin/jingzhun reference generate --out $(MODEL_TRAINING) --persons 100000 --seed 7 --day 2026-11-01
	$(VENV)/bin/python -m jingzhun.matching.training --inbox $(MODEL_TRAINING)/inbox --reference $(MODEL_TRAINING)/reference

# The printed work list, as a clerk gets it on paper: a fixed synthetic day, its first subdistrict's workbook
# printed to PDF by LibreOffice, page 1 as docs/screenshots/dispatch_print.png. Not part of `make test`: the tests
# check the workbook's print settings with openpyxl and need no LibreOffice.
SCREENSHOTS := .screenshots
SCREENSHOT_DAY := 2026-11-22
print-tools:
	@dpkg -s libreoffice-calc poppler-utils fonts-noto-cjk fonts-crosextra-carlito >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		libreoffice-calc poppler-utils fonts-noto-cjk fonts-crosextra-carlito >/dev/null; }

screenshots: $(VENV)/.synced print-tools
	rm -rf $(SCREENSHOTS)
	$(VENV)/bin/jingzhun reference generate --out $(SCREENSHOTS)/synthetic --persons 4000 --day $(SCREENSHOT_DAY)
	$(VENV)/bin/jingzhun run --inbox $(SCREENSHOTS)/jingzhun/synthetic/inbox --reference $(SCREENSHOTS)/synthetic/reference \
		--out $(SCREENSHOTS)/out --run-date $(SCREENSHOT_DAY) >/dev/null
	libreoffice -env:UserInstallation=file://$(abspath $(SCREENSHOTS))/libreoffice --headless --convert-to pdf \
		--outdir $(SCREENSHOTS) "$$(ls $(SCREENSHOTS)/out/$(SCREENSHOT_DAY)/dispatch/*.xlsx | head -n 1)"
	pdftoppm -png -r 110 -f 1 -l 1 -singlefile $(SCREENSHOTS)/*.pdf docs/screenshots/dispatch_print

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache $(SCREENSHOTS)
