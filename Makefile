# Every target does its own set-up: a fresh clone needs nothing but python3 and make.
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev,serve

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

demo: setup
	$(VENV)/bin/storex demo

test: setup
	$(VENV)/bin/pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

bench: setup
	$(PY) benchmarks/pipeline.py

clean:
	rm -rf $(VENV) artifacts .pytest_cache
