# `make app` and `make test` are the two commands a newcomer types; both set up .venv/ first (idempotent).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: setup setup-dev app test test-all bench

$(VENV)/.stamp-app: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.stamp-dev: requirements-dev.txt $(VENV)/.stamp-app
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.stamp-app
setup-dev: $(VENV)/.stamp-dev

app: setup  ## set up and start the app on http://localhost:8501
	$(PY) -m streamlit run app.py

test: setup-dev  ## set up and run the test suite (the full ResNet-50 tests included)
	$(PY) -m pytest

bench: setup-dev  ## print the speed and memory figures (about 6 minutes)
	$(PY) benchmarks/bench_explain.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_cams.py
