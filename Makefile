# `make app` and `make test` are the two commands a newcomer types; both set up .venv/ first (idempotent).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: setup setup-dev browser app test test-fast bench

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

browser:  ## Debian's Chromium and ChromeDriver for the browser tests (installed with apt when root)
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "No chromium/chromedriver and not root: the browser tests will skip (sudo apt-get install chromium chromium-driver)"; fi; \
	fi

# Two pytest workers: the browser and subprocess tests spend much of their time waiting.
test: setup-dev browser  ## set up, lint and run the whole test suite (ResNet-50 and real-browser tests included)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2 --dist worksteal

# The quick tier while editing (under 3 minutes on 2 cores): no ResNet-50, no browser, nothing marked
# slow. `make test` stays what CI runs.
test-fast: setup-dev  ## the quick tests only (no ResNet-50, no Chromium, no slow tests)
	$(PY) -m pytest -n 2 -m "not resnet and not browser and not slow"

bench: setup-dev browser  ## print the speed, memory, load and soak figures (about 20 minutes)
	$(PY) benchmarks/bench_explain.py
	$(PY) benchmarks/bench_browser.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_cams.py
	$(PY) benchmarks/bench_transformers.py
	$(PY) benchmarks/bench_strategies.py
	$(PY) benchmarks/bench_memory.py
	$(PY) benchmarks/bench_memory.py --server
	$(PY) benchmarks/bench_memory.py --commands
	$(PY) benchmarks/bench_load.py
	$(PY) benchmarks/bench_crowd.py
	$(PY) benchmarks/bench_faults.py

# The README's screenshots, from the running app in Chromium; rerun after any change to a page, and
# look at every PNG before committing. An emoji font, so the sidebar's page icons are drawn.
.PHONY: screenshots
screenshots: setup-dev browser  ## remake docs/*.png (a few minutes: it trains a small run)
	@if ! fc-list | grep -qi emoji && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null; fi
	$(PY) docs/screenshots.py
