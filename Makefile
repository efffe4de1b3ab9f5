# The two commands: `make run` and `make test`. Both set up .venv first.
SHELL := /bin/bash
VENV := .venv
HOST ?= 127.0.0.1
PORT ?= 7860
SAMPLE ?= $(firstword $(wildcard ../shared/audio/A_short_en/jfk/jfk.flac) \
            $(wildcard ../shared/audio/*/*/*.wav))
PYTEST_ARGS ?=

.PHONY: setup browser run transcribe test reliability bench clean-cache

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
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

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

clean-cache:
	rm -rf model_cache
