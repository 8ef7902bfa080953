# The README's two commands: `make demo` and `make test`. Each sets up .venv when missing.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test test-unit lint typecheck bench eval clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first: the CPU wheel 2.13.0 that lies on disk; a newer one would pull a multi-GB CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev,ray,openvino]" torch==2.13.0
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/interest-tools demo

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests

test-unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

lint: $(STAMP)
	$(VENV)/bin/ruff check interest_tools tests benchmarks examples
	$(VENV)/bin/ruff format --check interest_tools

typecheck: $(STAMP)
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/bench_windows.py --out benchmarks/results/windows.json
	$(PY) benchmarks/bench_build.py
	$(PY) benchmarks/bench_ingest.py
	$(PY) benchmarks/bench_tools.py --fake-embeddings
	$(PY) benchmarks/bench_scale.py

eval: $(STAMP)
	$(VENV)/bin/interest-tools eval --protocol loo --json

clean:
	rm -rf $(VENV) .interest_store build dist *.egg-info
