# Two commands do all set-up: `make run` and `make test` (see README).
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
STAMP := $(VENV)/.installed

.PHONY: run dev test bench clean-cache

$(STAMP): requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# The served app watches no files (.streamlit/config.toml): on a class server a watcher over
# the checkout (.venv included) only floods the log. `make dev` reloads pages on save.
run: $(STAMP)
	$(PY) -m streamlit run app.py --server.headless true --server.port $(PORT)

dev: $(STAMP)
	$(PY) -m streamlit run app.py --server.headless true --server.port $(PORT) \
		--server.fileWatcherType auto --server.runOnSave true

# --exitfirst is not used: a red run should show every failure at once.
test: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) bench/analyzer.py

clean-cache:
	rm -rf data/cache
