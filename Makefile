# offboard — see README.md. `make` alone prints this help.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB := demo/offboard-demo.db
DEMO_OUT := demo/export
APT_TEST_PACKAGES := sqlite3

.DEFAULT_GOAL := help
.PHONY: help demo test lint bench fmt clean system-deps

help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps: ## install the Debian packages the tests and benchmark use (sqlite3 CLI)
	@missing=""; for p in $(APT_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: $(STAMP) ## install, generate the demo account database, export one account
	$(BIN)/offboard demo $(DEMO_DB) --accounts 3 --scale small --seed 1
	rm -rf $(DEMO_OUT)
	$(BIN)/offboard export sqlite:///$(DEMO_DB) --account acc-0001 --out $(DEMO_OUT) --allow-missing-documents
	@echo "Export written to $(DEMO_OUT)/ (CSV in $(DEMO_OUT)/csv, PDFs in $(DEMO_OUT)/documents)"

test: $(STAMP) system-deps ## install with test dependencies and run the test suite
	$(BIN)/pytest -n 2 -q

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check offboard exporters manifests tests bench
	$(BIN)/ruff format --check offboard exporters manifests tests bench
	$(BIN)/mypy

fmt: $(STAMP) ## format the code
	$(BIN)/ruff format offboard exporters manifests tests bench
	$(BIN)/ruff check --fix offboard exporters manifests tests bench

bench: $(STAMP) system-deps ## benchmark export against sqlite3 -csv and pandas (large demo, cached)
	$(BIN)/python bench/run.py

clean: ## remove the virtualenv, demo and caches
	rm -rf $(VENV) demo .bench .pytest_cache .mypy_cache .ruff_cache
