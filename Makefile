# One entry point for people and CI. `make demo` and `make test` set everything up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help venv demo test lint format typecheck bench bench-peers clean

help:
	@echo "make demo         run the demo on the embedded store (./.loopml-demo)"
	@echo "make test         run the whole test suite"
	@echo "make lint         ruff (lint + format check) and mypy"
	@echo "make bench        benchmarks (loopml only); make bench-peers adds MLflow, Prefect, BentoML, FastAPI, Evidently side by side"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@# bytecode for the editable sources, as a wheel install has it (PYTHONDONTWRITEBYTECODE stops
	@# Python from caching it): every `loopml` process then starts without compiling them
	$(BIN)/python -m compileall -q src
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/loopml demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_tracking.py --no-peers
	$(BIN)/python benchmarks/bench_models.py --no-peers
	$(BIN)/python benchmarks/bench_orchestration.py --no-peers
	$(BIN)/python benchmarks/bench_server.py --no-peers
	$(BIN)/python benchmarks/bench_serving.py --no-peers
	$(BIN)/python benchmarks/bench_drift.py --no-peers
	$(BIN)/python benchmarks/bench_ui.py

bench-peers: $(STAMP)
	$(BIN)/python benchmarks/bench_tracking.py --install-peers
	$(BIN)/python benchmarks/bench_models.py --install-peers
	$(BIN)/python benchmarks/bench_orchestration.py --install-peers
	$(BIN)/python benchmarks/bench_server.py --install-peers
	$(BIN)/python benchmarks/bench_serving.py --install-peers
	$(BIN)/python benchmarks/bench_drift.py --install-peers
	$(BIN)/python benchmarks/bench_ui.py

clean:
	rm -rf $(VENV) .loopml-demo .pytest_cache .mypy_cache .ruff_cache
