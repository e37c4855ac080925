# Two commands for a fresh machine: `make demo` and `make test`.
# Each creates .venv if missing and installs villani with the extras it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.villani-installed

.PHONY: demo test test-papers test-slow lint clean bench-peers peer-envs report-check docs

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/villani reproduce --quick

# Two pytest-xdist workers (CI has 2 cores); a test file stays on one worker, so each
# paper's quick run (its notebook, executed by its test module) happens once.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The five papers' quick reproductions and the tests of their verdicts (about 11 CPU-minutes:
# outside the 10-minute default run; .ci/run runs them after it).
test-papers: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m paper

# Long-running tests (compile-bound checks, many-example property tests, wide-network limits):
# outside the default run, run by .ci/run after the papers.
test-slow: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check villani tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache

# Side-by-side benchmarks against the peers (benchmarks/README.md). Each peer gets its own
# virtual environment under benchmarks/peers/.envs/ (git-ignored); one that fails to build
# is reported "not run" by the driver, so the target goes on.
PEERS := benchmarks/peers
PEER_ENVS := $(PEERS)/.envs

$(PEER_ENVS)/%/.installed: $(PEERS)/requirements-%.txt
	@mkdir -p $(PEER_ENVS)
	rm -rf $(PEER_ENVS)/$*
	$(PYTHON) -m venv $(PEER_ENVS)/$*
	$(PEER_ENVS)/$*/bin/pip install -q -r $< > $(PEER_ENVS)/build-$*.log 2>&1 \
		|| { echo "peer env $* failed: see $(PEER_ENVS)/build-$*.log"; exit 1; }
	touch $@

peer-envs:
	-$(MAKE) $(PEER_ENVS)/torch/.installed
	-$(MAKE) $(PEER_ENVS)/nt/.installed
	-$(MAKE) $(PEER_ENVS)/blackjax/.installed

bench-peers: $(STAMP) peer-envs
	$(PY) $(PEERS)/run.py $(PEERS_ARGS)

# Build a small report and screenshot index.html in headless Chromium (Debian's `chromium`;
# apt-get install -y chromium). Not part of `make test`. Look at build/report-check/*.png.
report-check: $(STAMP)
	$(PY) tools/report_check.py --out build/report-check $(if $(PAPER),--paper $(PAPER))

# The documentation site (mkdocs-material + mkdocstrings: the API pages come from the
# docstrings); warnings are errors. Output: build/site/index.html.
docs: $(STAMP)
	$(PY) -m pip install -q -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict
