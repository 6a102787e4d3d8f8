# dragonscope: `make demo` to see it, `make test` to check it.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint screenshots system-deps clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/dragonscope demo

# Debian packages whose programs the tests, benchmarks and screenshots drive, installed only
# when a program is missing; the list is scripts/system_deps.py.
system-deps:
	@python3 scripts/system_deps.py install

test: system-deps $(STAMP)
	@python3 scripts/system_deps.py check
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -p no:cacheprovider

# The sources compiled first, as an installed package's are: where PYTHONDONTWRITEBYTECODE is
# set, every service the benchmarks start would otherwise compile them again (0.3 to 0.5 s of
# each start and sync measured).
bench: system-deps $(STAMP)
	$(PY) -m compileall -q src
	$(PY) -m bench

# The UI screenshots in docs/img, taken from the running demo.
screenshots: system-deps $(STAMP)
	$(PY) scripts/screenshots.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build src/*.egg-info
