# kinetype — `make demo` and `make test` work on a fresh machine (they set up first).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup sysdeps demo test bench clean

setup: $(STAMP)

# Idempotent: the stamp is rebuilt only when pyproject.toml changes.
# torch comes first, pinned to the local CPU build where there is no NVIDIA GPU, so that the
# `train` extra does not pull gigabytes of CUDA packages.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	if command -v nvidia-smi >/dev/null 2>&1; then $(PY) -m pip install -q torch; \
	else $(PY) -m pip install -q torch==2.13.0; fi
	$(PY) -m pip install -q -e ".[dev,train,eval]"
	touch $(STAMP)

# Tesseract (legibility benchmark and OCR tests); best effort: needs root and Debian's apt.
sysdeps:
	@command -v tesseract >/dev/null 2>&1 || { \
	  (apt-get update -qq && apt-get install -y -qq tesseract-ocr >/dev/null) 2>/dev/null \
	  || echo "note: tesseract-ocr not installed; OCR tests are skipped"; }

demo: setup
	$(VENV)/bin/kinetype render --templates templates --n 16 --out shards/demo --shard-size 8
	$(VENV)/bin/kinetype shards inspect shards/demo --sheet shards/demo/sheet.png
	$(VENV)/bin/kinetype preview --random --word Hello --out shards/demo/preview.gif
	@echo "demo: open shards/demo/sheet.png and shards/demo/preview.gif"

test: setup sysdeps
	$(PY) -m pytest

bench: setup sysdeps
	$(PY) benchmarks/render_speed.py
	$(PY) benchmarks/legibility.py
	$(PY) benchmarks/dataset_speed.py

clean:
	rm -rf $(VENV) shards/demo
