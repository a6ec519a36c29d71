# offboard — see README.md. `make` alone prints this help.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB := demo/offboard-demo.db
DEMO_OUT := demo/export
DEMO_KEY := demo/demo-signing
DEMO_ARCHIVE := demo/acc-0001.zip
DEMO_CLOSED := demo/closed
APT_TEST_PACKAGES := sqlite3 minisign qpdf unzip postgresql age chromium faketime

.DEFAULT_GOAL := help
.PHONY: help demo test lint bench fuzz fmt clean system-deps

help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps: ## install the Debian tools the tests use (sqlite3, minisign, qpdf, unzip, postgresql, age, chromium, faketime)
	@missing=""; for p in $(APT_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: $(STAMP) ## install, make the demo database and key pair, export and sign one account, close another
	$(BIN)/offboard demo $(DEMO_DB) --accounts 3 --scale small --seed 1
	rm -rf $(DEMO_OUT)
	$(BIN)/offboard export sqlite:///$(DEMO_DB) --account acc-0001 --out $(DEMO_OUT) --allow-missing-documents
	@echo "Export written to $(DEMO_OUT)/ (CSV in $(DEMO_OUT)/csv, PDFs in $(DEMO_OUT)/documents)"
	@test -f $(DEMO_KEY).key || $(BIN)/offboard keygen $(DEMO_KEY) --no-passphrase
	$(BIN)/offboard export sqlite:///$(DEMO_DB) --account acc-0001 --out $(DEMO_ARCHIVE) --overwrite \
	  --sign-key $(DEMO_KEY).key --allow-missing-documents --quiet
	$(BIN)/offboard verify $(DEMO_ARCHIVE) --pubkey $(DEMO_KEY).pub
	@echo "Signed archive: $(DEMO_ARCHIVE) (public key $(DEMO_KEY).pub; see README, 'Verify without offboard')"
	rm -rf $(DEMO_CLOSED)
	$(BIN)/offboard close sqlite:///$(DEMO_DB) --account acc-0002 --yes --sign-key $(DEMO_KEY).key \
	  --pubkey $(DEMO_KEY).pub --out $(DEMO_CLOSED) --reason "Demo: the customer leaves" \
	  --allow-missing-documents

test: $(STAMP) system-deps ## install with test dependencies and run the test suite
	$(BIN)/pytest -n 2 -q

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check offboard exporters manifests tests bench fuzz
	$(BIN)/ruff format --check offboard exporters manifests tests bench fuzz
	$(BIN)/mypy

fmt: $(STAMP) ## format the code
	$(BIN)/ruff format offboard exporters manifests tests bench fuzz
	$(BIN)/ruff check --fix offboard exporters manifests tests bench fuzz

bench: $(STAMP) system-deps ## benchmarks: export vs sqlite3 -csv, pandas and psql \copy; archive+verify vs bagit-python; verifier memory; peak memory of export and verify against 256 MB (large account, 5 GB archive); fleets of backups (cached data)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/archive.py
	$(BIN)/python bench/verify_memory.py
	$(BIN)/python bench/resources.py
	$(BIN)/python bench/postgres.py
	$(BIN)/python bench/http_source.py
	$(BIN)/python bench/fleet.py --runs 1

FUZZ_SECONDS ?= 60
FUZZ_HOME := .fuzz

fuzz: $(STAMP) ## coverage-guided fuzzing (atheris) of the archive reader and the manifest parser, FUZZ_SECONDS each (default 60)
	$(BIN)/pip install --quiet -e '.[fuzz]'
	test -f $(FUZZ_HOME)/base/acc-t001.zip || $(BIN)/python fuzz/seeds.py $(FUZZ_HOME)
	OFFBOARD_FUZZ_HOME=$(FUZZ_HOME) $(BIN)/python fuzz/archive_reader.py $(FUZZ_HOME)/archive \
	  -max_total_time=$(FUZZ_SECONDS) -timeout=30 -artifact_prefix=$(FUZZ_HOME)/
	OFFBOARD_FUZZ_HOME=$(FUZZ_HOME) $(BIN)/python fuzz/manifest_parser.py $(FUZZ_HOME)/manifest \
	  -max_total_time=$(FUZZ_SECONDS) -timeout=30 -artifact_prefix=$(FUZZ_HOME)/

clean: ## remove the virtualenv, demo and caches
	rm -rf $(VENV) demo .bench .fuzz .pytest_cache .mypy_cache .ruff_cache
