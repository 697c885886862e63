# Two commands for a new machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3

.PHONY: run test setup system bench lint format clean

run: setup  ## set everything up, start web + worker + Flower, print the URLs
	VENV=$(VENV) scripts/run.sh

test: setup  ## lint and run the whole test suite
	WITH_BROWSER=1 WITH_POSTGRES=1 scripts/ensure-system.sh
	VENV=$(VENV) scripts/test.sh

setup: system $(VENV)/.installed static/vendor

static/vendor: package.json package-lock.json scripts/vendor-static.sh
	scripts/vendor-static.sh

system:
	scripts/ensure-system.sh

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

bench: setup  ## ratios against raw ffmpeg and naive code, side by side; writes docs/benchmarks.md
	$(VENV)/bin/python bench/run.py

lint:
	$(VENV)/bin/ruff check .

format:
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache node_modules static/vendor
