# remask: `make run` opens the app, `make test` runs the whole suite headless.
# Both create .venv when missing and install what they need.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test bench models sysdeps clean bundle

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

sysdeps:
	@bash packaging/install-system-deps.sh

$(RUN_STAMP): pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

# torch is pinned to the CPU build that lies on this machine's disk; a bare
# `torch` would pull a multi-GB CUDA build.
$(TEST_STAMP): pyproject.toml | $(PY)
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[test,train]"
	touch $@ $(RUN_STAMP)

run: sysdeps $(RUN_STAMP)
	$(VENV)/bin/remask

test: sysdeps $(TEST_STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider

bench: $(TEST_STAMP)
	$(PY) -m engine.train.bench
	QT_QPA_PLATFORM=offscreen $(PY) -m app.bench

models: $(TEST_STAMP)
	$(VENV)/bin/remask-train all

# A one-folder PyInstaller build in dist/remask (see packaging/README.md).
bundle: $(RUN_STAMP)
	$(PY) -c "import PyInstaller" 2>/dev/null || $(PIP) install -q pyinstaller
	$(VENV)/bin/pyinstaller --noconfirm --distpath dist --workpath build packaging/remask.spec

clean:
	rm -rf $(VENV) build dist *.egg-info
