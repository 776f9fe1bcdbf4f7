# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test sample lint bench clean-venv

# Re-install only when the project metadata changed; a second run skips it.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

sample: $(STAMP)
	$(PY) -m elder_coverage.sample --if-missing

demo: sample
	$(VENV)/bin/elder-coverage demo --out data/processed/demo --map maps/demo_map.html

test: $(STAMP)
	$(PY) -m pytest -q tests
	$(PY) -m pytest -q --nbmake notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check coverage tests benchmarks

# Benchmarks print figures (minutes, not part of `make test`); see benchmarks/README.md.
bench: $(STAMP)
	$(PY) benchmarks/bench_coverage.py
	$(PY) benchmarks/bench_close_merge.py
	$(PY) benchmarks/bench_orlib.py
	$(PY) benchmarks/bench_spopt.py

clean-venv:
	rm -rf $(VENV)
