# The two commands a newcomer needs:
#   make demo   start the embedded stack and run the demonstration
#   make test   lint (ruff, import contracts), type-check and run the whole test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo up test lint typecheck bench clean system-packages

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Casework needs Python 3.11 ($(PYTHON) not found); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	touch $(STAMP)

# Node.js tools of the tests (the OpenID Connect provider, axe-core), from the lock file.
tools/node/node_modules/.installed: tools/node/package-lock.json
	npm ci --prefix tools/node --no-audit --no-fund
	touch $@

demo: $(STAMP)
	$(BIN)/casework demo

up: $(STAMP)
	$(BIN)/casework up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy .

# Both cores (pytest-xdist), each test file on one worker: its module fixtures (the
# console's browser stack) are made once, and most tests wait on servers, not the CPU.
# The run's temporary files live in a directory of its own: another pytest run on the
# machine resets /tmp/pytest-of-<user> to mode 0700, which would lock the embedded
# PostgreSQL's system user out of the data directories under it.
test: $(STAMP) tools/node/node_modules/.installed lint typecheck system-packages
	@tmp=$$(mktemp -d -t casework-tests.XXXXXX); \
	$(BIN)/pytest -q --durations=15 -n 2 --dist loadfile --basetemp=$$tmp/run; \
	status=$$?; rm -rf $$tmp; exit $$status

# System packages from Debian, installed when missing (waiting for another install's dpkg
# lock): Chromium for the console's browser tests (Playwright's own download is not
# reachable here), clamd for the documents' virus scan test (it writes its own signature
# database), Pango and a font for the plan rendered as PDF (WeasyPrint), poppler-utils for
# the tests that read a PDF back.
SYSTEM_PACKAGES := chromium clamav-daemon libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils

system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  apt-get update -q -o DPkg::Lock::Timeout=600 && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 $$missing; \
	fi

bench: $(STAMP)
	$(BIN)/python bench/append.py --quick --json
	$(BIN)/python bench/read_models.py --quick --json
	$(BIN)/python bench/lifecycle.py --quick --json
	$(BIN)/python bench/api.py --quick --json
	$(BIN)/python bench/console.py --quick --json
	$(BIN)/python bench/notary.py --quick --json
	$(BIN)/python bench/backup.py --quick --json
	$(BIN)/python bench/cli.py --quick --json
	$(BIN)/python bench/documents.py --quick --json
	$(BIN)/python bench/client_search.py --quick --json
	$(BIN)/python bench/exports.py --quick --json
	$(BIN)/python bench/dashboard.py --quick --json
	$(BIN)/python bench/reports.py --quick --json
	$(BIN)/python bench/hsds_import.py --quick --json
	$(BIN)/python bench/webhooks.py --quick --json

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
