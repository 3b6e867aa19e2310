# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed
# llama-cpp-python compiles from source; use both cores. pip's wheel cache (~/.cache/pip)
# keeps the built wheel, so a second venv installs it in seconds.
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc)
# Portable x86-64-v3 kernels instead of -march=native: a native build enables ggml's AMX kernels
# on Sapphire Rapids, which segfault in some VMs (llama.cpp #20824), and a native wheel from pip's
# cache can crash on another CPU. Set CMAKE_ARGS yourself to build otherwise.
ifeq ($(shell uname -m),x86_64)
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
endif
API_PORT ?= 8000
SOAK_MINUTES ?= 3
BACKEND ?= local

.PHONY: run test api bench bench-twice soak eval lint browser services clean cluster

run: $(RUNTIME)
	$(BIN)/streamlit run app.py

api: $(RUNTIME)
	$(BIN)/python -m streaming_core.api --host 127.0.0.1 --port $(API_PORT)

# Redis + PostgreSQL (data in .data/), API_WORKERS API workers on API_PORT and the Streamlit app.
cluster: $(RUNTIME)
	API_PORT=$(API_PORT) ./scripts/cluster.sh

test: $(DEV) browser services
	$(BIN)/python -m pytest

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/mypy

browser:
	./scripts/install-browser.sh

services:
	./scripts/install-services.sh

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# requirements.txt installs this project (editable) with the local model: pins are in pyproject.toml.
$(RUNTIME): requirements.txt pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -r requirements.txt
	./scripts/check-local-model.sh $(BIN)/python
	touch $@

$(DEV): requirements-dev.txt pyproject.toml $(RUNTIME)
	$(BIN)/python -m pip install -r requirements-dev.txt
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# make bench [SECTIONS="layers local"] [REPEATS=40]: REPEATS raises the minimum number of interleaved
# repetitions (BENCH_REPEATS; each section keeps its own floor, see bench/__main__.py). Writes
# docs/benchmarks.md and each target's verdict to docs/bench-verdicts.json.
BENCH_RUN = $(if $(REPEATS),BENCH_REPEATS=$(REPEATS) )$(BIN)/python -m bench $(SECTIONS)
bench: $(DEV) browser
	$(BENCH_RUN)

# make bench-twice [SECTIONS=...] [REPEATS=...]: two runs in a row, then every target whose verdict
# differs between them (python -m bench.compare; fails when one does). The first run's verdicts stay
# in BENCH_FIRST.
BENCH_FIRST ?= $(or $(TMPDIR),/tmp)/bench-verdicts-first.json
bench-twice: $(DEV) browser
	$(BENCH_RUN)
	cp docs/bench-verdicts.json $(BENCH_FIRST)
	$(BENCH_RUN)
	$(BIN)/python -m bench.compare $(BENCH_FIRST) docs/bench-verdicts.json

soak: $(DEV)
	SOAK_MINUTES=$(SOAK_MINUTES) $(BIN)/python -m bench.soak

# The evaluation of answers (evals/cases.py) on one backend; rewrites the latest run in docs/evals.md.
eval: $(DEV)
	$(BIN)/python -m evals --backend $(BACKEND)
