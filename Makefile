# The two commands: `make run` and `make test`. Both set up .venv first.
SHELL := /bin/bash
VENV := .venv
SAMPLE ?= $(firstword $(wildcard ../shared/audio/A_short_en/jfk/jfk.flac) \
            $(wildcard ../shared/audio/*/*/*.wav))
PYTEST_ARGS ?=

.PHONY: setup run test bench clean-cache

setup:
	@bash scripts/setup.sh

run: setup
	@test -n "$(SAMPLE)" || { echo "make run: no sample recording found; try: make run SAMPLE=path/to/audio"; exit 1; }
	$(VENV)/bin/stt-studio transcribe $(SAMPLE) --format txt,srt,json --output-dir out

test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(VENV)/bin/python bench/run_bench.py

clean-cache:
	rm -rf model_cache
