# The two commands of the README:
#   make demo   set everything up and run the whole pipeline locally (no AWS account needed)
#   make test   install the test dependencies and run the lint and the tests
# Other targets: make setup | lint | stack-start | stack-stop | stack-status | clean

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements.txt requirements-dev.txt local/requirements.txt pyproject.toml
PYTEST_ARGS ?=

.PHONY: setup demo test lint stack-start stack-stop stack-status clean

setup: $(STAMP) local/node_modules/.package-lock.json

$(STAMP): $(REQUIREMENTS)
	bash scripts/install_system_deps.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip check
	touch $(STAMP)

local/node_modules/.package-lock.json: local/package.json local/package-lock.json
	bash scripts/install_system_deps.sh
	cd local && npm ci --no-audit --no-fund --loglevel=error

demo: setup
	$(PY) scripts/demo.py

lint: setup
	$(VENV)/bin/ruff check .

# checkov pins an older boto3 than the project: its own virtualenv, made once (remade when
# requirements-checkov.txt changes), for the infrastructure scans of the tests
test: setup lint
	bash scripts/install_system_deps.sh --with-browser
	$(PY) infra/cicd/lint_templates.py --install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

stack-start: setup
	$(PY) -m local start

stack-stop:
	$(PY) -m local stop

stack-status:
	$(PY) -m local status

clean:
	-$(PY) -m local stop
	rm -rf $(VENV) local/node_modules .local-stack .pytest_cache .ruff_cache
