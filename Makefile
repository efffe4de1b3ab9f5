# The two commands: `make run` and `make test`. Both set up .venv first.
SHELL := /bin/bash
VENV := .venv
HOST ?= 127.0.0.1
PORT ?= 7860
SAMPLE ?= $(firstword $(wildcard ../shared/audio/A_short_en/jfk/jfk.flac) \
            $(wildcard ../shared/audio/*/*/*.wav))
PYTEST_ARGS ?=
# test processes: one per core (pytest-xdist); a file's tests stay in one process,
# so its module fixtures (models, long recordings) are built once
WORKERS ?= auto

.PHONY: setup browser run transcribe test check reliability bench constraints clean-cache

setup:
	@bash scripts/setup.sh

browser:
	@bash scripts/ensure_chromium.sh

# the studio's web UI on the bundled default model; prints the URL to open
run: setup
	$(VENV)/bin/stt-studio serve --host $(HOST) --port $(PORT)

# the command line on a sample recording: out/<name>.{txt,srt,json}
transcribe: setup
	@test -n "$(SAMPLE)" || { echo "make transcribe: no sample recording found; try: make transcribe SAMPLE=path/to/audio"; exit 1; }
	$(VENV)/bin/stt-studio transcribe $(SAMPLE) --format txt,srt,json --output-dir out

test: setup browser
	$(VENV)/bin/python -m pytest -n $(WORKERS) --dist loadfile $(PYTEST_ARGS)

# the inner loop (under 2 minutes): lint, types and the tests that load no model
check: setup
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/mypy src
	$(VENV)/bin/python -m pytest -q -n $(WORKERS) -m "not slow and not browser and not packaging" $(PYTEST_ARGS)

# run the fault matrix and write docs/RELIABILITY.md from it (make test checks it is current)
reliability: setup browser
	$(VENV)/bin/python -m pytest -q -m fault --reliability-report=docs/RELIABILITY.md $(PYTEST_ARGS)

# speed, accuracy and memory figures -> bench/RESULTS.md (about 65 minutes on 2 cores)
bench: setup
	$(VENV)/bin/python bench/run_bench.py
	$(VENV)/bin/python bench/long_form.py
	$(VENV)/bin/python bench/api_bench.py
	$(VENV)/bin/python bench/diarization.py
	$(VENV)/bin/python bench/completeness.py

# re-resolve the exact tested set after a change to pyproject.toml's ranges
constraints: setup
	$(VENV)/bin/python -m pip install -q --upgrade -e ".[all,test]" torch==2.13.0
	{ sed -n '/^#/p' constraints.txt; $(VENV)/bin/python -m pip freeze --exclude-editable \
	  | sed 's/^torch==2.13.0+cpu$$/torch==2.13.0/'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean-cache:
	rm -rf model_cache
