# kinetype — `make demo` and `make test` work on a fresh machine (they set up first).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup sysdeps demo test bench model clean

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
	$(VENV)/bin/kinetype generate Hello --motion "bounce in" --out shards/demo/Hello-bounce-in.mp4
	@echo "demo: open shards/demo/sheet.png, shards/demo/preview.gif and shards/demo/Hello-bounce-in.mp4 (the bundled model)"

test: setup sysdeps
	$(PY) -m pytest

bench: setup sysdeps
	$(PY) benchmarks/render_speed.py
	$(PY) benchmarks/legibility.py
	$(PY) benchmarks/dataset_speed.py

# A bundle-sized model from scratch with the bundled model's recipe and today's trainer (the card,
# models/kinetype/README.md, has the recipe and its figures): its training set; the three stages with
# the cpu preset (the base); the decoder trained further, its encoder frozen; the video stage continued
# with a stronger glyph loss and the colour embedding; an interpolator for --frames 48 on 16 fps clips;
# half-precision bundling into kinetype/assets/model (models/kinetype links to it); scores. About
# 4 hours on 2 CPU cores: 84 minutes of base steps, 39 of decoder steps, 30 of video steps, 29 of
# interpolator steps, 32 of latent caches (two autoencoders, the 48-frame clips), then scoring.
model: setup sysdeps
	$(VENV)/bin/kinetype render --n 8000 --size 128 --seed 0 --shard-size 500 --out shards/cpu128
	$(VENV)/bin/kinetype train --preset cpu --shards shards/cpu128 --out runs/kinetype --seed 0
	$(VENV)/bin/kinetype train --preset cpu --stage autoencoder --init runs/kinetype/video/pipeline --shards shards/cpu128 \
	  --config benchmarks/training_options/decoder.toml --max-steps 7528 --seed 0 --out runs/kinetype-decoder
	$(VENV)/bin/kinetype train --preset cpu --stage video --init runs/kinetype-decoder/pipeline --shards shards/cpu128 \
	  --config benchmarks/training_options/colour.toml --max-steps 2000 --seed 0 --out runs/kinetype-colour
	$(VENV)/bin/kinetype render --n 4000 --size 128 --frames 48 --fps 16 --seed 1 --shard-size 500 --out shards/cpu128-16fps
	$(VENV)/bin/kinetype train --preset cpu --stage interpolation --init runs/kinetype-colour/pipeline \
	  --shards shards/cpu128-16fps --max-steps 1762 --seed 0 --out runs/kinetype-interp
	$(PY) tools/bundle_model.py runs/kinetype-interp/pipeline kinetype/assets/model
	$(VENV)/bin/kinetype eval model --model models/kinetype --n 100 --out eval/model

clean:
	rm -rf $(VENV) shards/demo
