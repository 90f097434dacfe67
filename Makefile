# Two commands for a fresh machine (see README.md): `make book` builds the website, `make test` runs every test.
# Both set up what they need first: a virtual environment in .venv and the site's JavaScript in node_modules.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SANITIZE := --nbval-sanitize-with .nbval-sanitize.cfg
# The most portable CPU kernels of torch, oneDNN and MKL (no AVX). The second nbval pass runs on them, so that a stored
# output that depends on which vector kernels a CPU picks fails here, and not only on a reader's machine.
PORTABLE_KERNELS := ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 MKL_ENABLE_INSTRUCTIONS=SSE4_2

.PHONY: setup book pdf test notebooks check-notebooks format-notebooks clean

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

setup: $(VENV)/.installed node_modules/.installed

book: setup  ## Build the website into _build/html (warnings are errors)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

test: book pdf  ## Library tests, nbval on every chapter (this CPU's kernels, then the portable ones), browser tests of the site, the code-format check
	$(PY) -m pytest tests/ chapters/ --nbval $(SANITIZE)
	env $(PORTABLE_KERNELS) $(PY) -m pytest chapters/ --nbval $(SANITIZE) -q
	$(PY) tools/format_notebooks.py --check

notebooks: setup  ## Re-execute every chapter in place (after changing the library or a chapter)
	$(PY) tools/notebooks.py

pdf: book  ## The whole book as one PDF, printed from the built site: _build/html/se-book.pdf (the site links it)
	$(PY) tools/make_pdf.py

format-notebooks: setup  ## Format the chapters' code cells with black (lines of at most 88 characters)
	$(PY) tools/format_notebooks.py

clean:
	rm -rf _build _static/vendor
