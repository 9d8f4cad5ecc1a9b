# Two commands do all set-up: `make run` and `make test` (see README).
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
STAMP := $(VENV)/.installed

.PHONY: run dev test bench clean-cache messages catalogues

# The interface's translations: each language's catalogue (.po, kept in git) compiled to the
# .mo the app reads, whenever the .po changed. `make messages` extracts the messages of the code
# into locales/nonestory.pot and merges them into every catalogue for translators (README,
# "Languages").
PO := $(wildcard locales/*/LC_MESSAGES/nonestory.po)
MO := $(PO:.po=.mo)

%.mo: %.po $(STAMP)
	$(VENV)/bin/pybabel --quiet compile --domain nonestory --input-file $< --output-file $@

catalogues: $(MO)

messages: $(STAMP)
	$(VENV)/bin/pybabel extract --mapping-file babel.cfg --output-file locales/nonestory.pot \
		--no-location --sort-output --project NoneStory --copyright-holder "NoneStory" \
		--msgid-bugs-address "" --width 100 .
	$(VENV)/bin/pybabel update --input-file locales/nonestory.pot --output-dir locales --domain nonestory \
		--no-wrap --ignore-obsolete

$(STAMP): requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# The served app watches no files (.streamlit/config.toml): on a class server a watcher over
# the checkout (.venv included) only floods the log. `make dev` reloads pages on save.
run: $(STAMP) $(MO)
	$(PY) -m streamlit run app.py --server.headless true --server.port $(PORT)

dev: $(STAMP) $(MO)
	$(PY) -m streamlit run app.py --server.headless true --server.port $(PORT) \
		--server.fileWatcherType auto --server.runOnSave true

# --exitfirst is not used: a red run should show every failure at once.
test: $(STAMP) $(MO)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) bench/analyzer.py

clean-cache:
	rm -rf data/cache
