# mps: every entry point a developer or CI needs. `make test` installs whatever is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLE := sample

.PHONY: install system-deps player-deps sample services run run-local test test-fast lint bench bench-api bench-segments clean

install: system-deps $(STAMP)

# Debian's FFmpeg and the DejaVu font for text watermarks, installed only when missing.
system-deps:
	@command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || { \
	  echo "installing ffmpeg and fonts-dejavu-core"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq ffmpeg fonts-dejavu-core >/dev/null; }

# The browser players of the adaptive streaming tests: Debian's chromium when missing, and hls.js,
# dash.js and playwright-core from tests/players/package-lock.json.
player-deps:
	@command -v chromium >/dev/null || { \
	  echo "installing chromium"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@cd tests/players && { [ node_modules/.package-lock.json -nt package-lock.json ] || \
	  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error; }

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test,postgres]"
	touch $(STAMP)

# The sample clip and logo the demos use (made once with lavfi).
sample: system-deps
	@mkdir -p $(SAMPLE)
	@[ -f $(SAMPLE)/clip.mp4 ] || ffmpeg -nostdin -v error -y \
	  -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=12" -f lavfi -i "sine=frequency=440:duration=12" \
	  -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -shortest $(SAMPLE)/clip.mp4
	@[ -f $(SAMPLE)/logo.png ] || ffmpeg -nostdin -v error -y -f lavfi -i "color=c=red:s=160x80,format=rgba" \
	  -frames:v 1 $(SAMPLE)/logo.png

# RabbitMQ is the one service the demo does not start itself (SeaweedFS it does): start it if down.
services:
	@(exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || { echo "starting RabbitMQ"; rabbitmq-server -detached; \
	  for i in $$(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && break; sleep 1; done; }

# The main job: SeaweedFS + `mps up` on free ports, the sample clip through the official SDK
# (templates, ProcessMedia with every sub-task type, DescribeTaskDetail), outputs and event shown.
run: install sample services
	$(BIN)/python examples/service_demo.py

# The same work on one machine with no services: `mps process` into sample/out.
run-local: install sample
	$(BIN)/mps process $(SAMPLE)/clip.mp4 --task examples/task.json --templates examples/templates.json \
	  --output-dir $(SAMPLE)/out

# The official Node.js SDK the integration tests drive (tests/js), from package-lock.json; without
# npm the Node.js tests skip locally and fail in CI.
JS := tests/js
.PHONY: js-deps
js-deps: $(JS)/node_modules/.installed

$(JS)/node_modules/.installed: $(JS)/package-lock.json
	@if command -v npm >/dev/null; then cd $(JS) && npm ci --no-audit --no-fund && touch node_modules/.installed; \
	else echo "npm not found: the Node.js SDK tests will be skipped (a failure when CI is set)"; fi

test: install js-deps player-deps
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not integration and not slow"

# The quality bar, run by CI before the tests: lint, formatting, and types (mypy with pydantic's plugin).
lint: install
	$(BIN)/ruff check mps tests
	$(BIN)/ruff format --check mps tests
	$(BIN)/mypy

# mps process vs the naive and the best hand-written ffmpeg pipelines, then `mps api` under fixed
# request rates on SQLite and PostgreSQL, then a chunked transcode through the service on one and
# two pinned workers; writes bench/RESULTS.md (the API and the chunked parts are sections of their own).
# BENCH_ARGS="--runs 5" for more runs, "--quick" for a smoke run on tiny inputs (first two parts);
# API_BENCH_ARGS for the API part only ("--workers 2", "--baseline DIR" to compare older code);
# SEGMENTS_ARGS for the chunked part (see bench-segments).
bench: install services
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/api_load.py $(BENCH_ARGS) $(API_BENCH_ARGS)
	$(BIN)/python bench/segments_service.py $(SEGMENTS_ARGS)

# The API part alone (a few minutes).
bench-api: install services
	$(BIN)/python bench/api_load.py $(BENCH_ARGS) $(API_BENCH_ARGS)

# Chunked transcodes through the service: a 10-minute 1080p transcode on one worker pinned to one
# core, then on two workers pinned to a core each (MPS_SEGMENT_SECONDS=30); SeaweedFS and a SQLite
# store of its own. Wall and CPU speed-ups, CPU overhead, output checks: its section of bench/RESULTS.md,
# the full report (CPU by kind of run, timelines) in bench/work/SEGMENTS-service.md.
# SEGMENTS_ARGS="--seconds 60 --segment 10" for a quick run, "--postgres", "--wait-idle 1.0".
bench-segments: install services
	$(BIN)/python bench/segments_service.py $(SEGMENTS_ARGS)

clean:
	rm -rf $(VENV) $(SAMPLE) .pytest_cache .ruff_cache
