# Two commands for a fresh machine: `make demo` runs the hub's main job, `make test` runs the tests.
# Each creates .venv and installs what the project needs on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: demo test serve bench clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

demo: $(STAMP)
	$(VENV)/bin/hub demo

test: $(STAMP)
	$(VENV)/bin/ruff check hub adapters tests bench
	$(VENV)/bin/ruff format --check hub adapters tests bench
	$(VENV)/bin/pytest -n 2 --dist loadgroup

serve: $(STAMP)
	$(VENV)/bin/hub pki dev
	$(VENV)/bin/hub serve

bench: $(STAMP)
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) var build *.egg-info
