# Every target does its own set-up: a fresh clone needs nothing but python3 and make.
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev,serve,web,django,export,scale

.PHONY: setup browser demo shop test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

# The browser tests drive Debian's chromium (no browser download); install it when missing.
browser:
	@command -v chromium >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; }; }

demo: setup
	$(VENV)/bin/storex demo

# The example Django shop (examples/django_shop) on port 8001, beside the demo's bundles.
shop: setup
	$(PY) examples/django_shop/manage.py runserver 8001

test: setup browser
	$(VENV)/bin/pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

bench: setup
	$(PY) benchmarks/pipeline.py

clean:
	rm -rf $(VENV) artifacts .pytest_cache
