# vclip-harness: `make ablation` trains the study, writes its report and compares it with the
# published one; `make test` runs CI.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch==2.13.0 is the CPU wheel on our machines. Elsewhere on Linux, plain PyPI serves a
# multi-GB CUDA build: pass TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu".
TORCH_INDEX ?=
EXP ?= experiments/ablation.yaml
LOCAL := results/local
JOBS ?=
PUBLISHED := ablation baselines_vs_unclipped eps_sweep reward_scale clip_pilot ant_check
# studies still training: committed with their checkpoints, which `make clean` keeps
TRAINING := population_c1
JOBS_FLAG := $(if $(JOBS),--jobs $(JOBS),)

.PHONY: setup test lint ablation report reproduce bench clean

setup: $(STAMP)

# Rebuilt only when pyproject.toml changes, so repeated `make test` starts at once.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check torch==2.13.0 $(TORCH_INDEX)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,cluster,bench,notebook,export,video,box2d,robotics,trainers]'
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check harness tests

# pytest exits 5 when it collects nothing: a suite that ran no test must not pass.
test: lint
	$(BIN)/python -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

# Trains into a directory of its own (git ignores it), so the published runs under results/
# stay as committed; the last line says whether they were reproduced.
ablation: setup
	$(BIN)/harness run $(EXP) --results-dir $(LOCAL) $(JOBS_FLAG)
	$(BIN)/harness report $(EXP) --results-dir $(LOCAL)
	$(BIN)/harness compare $(EXP) --results-dir $(LOCAL) --published results

report: setup
	$(BIN)/harness report $(EXP)

reproduce: setup
	$(BIN)/harness run experiments/baselines_vs_unclipped.yaml $(JOBS_FLAG)
	$(BIN)/harness report experiments/baselines_vs_unclipped.yaml

bench: setup
	mkdir -p results
	$(BIN)/harness bench --json results/bench.json

clean:
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info
	# your experiments' run files and reports go; the published studies (committed, with their
	# raw data) stay, without their checkpoints and progress files
	find results -mindepth 1 -maxdepth 1 -type d $(PUBLISHED:%=! -name %) $(TRAINING:%=! -name %) \
		-exec rm -rf {} +
	rm -rf $(PUBLISHED:%=results/%/checkpoints) $(PUBLISHED:%=results/%/.progress) \
		$(PUBLISHED:%=results/%/.workers)
	find results -mindepth 1 -maxdepth 1 -type f ! -name README.md -delete
