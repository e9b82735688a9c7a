# Entry points of the experiment runner. `make all` reproduces every result
# and the report; `make test` runs the test suite.
CARGO ?= cargo
FEATURES ?=
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
BIN := $(TARGET_DIR)/release/exprun
EXPRUN := $(BIN)

.PHONY: all everything build data denoise ordering ablations seeds tuning report test lint fmt bench profile

all: denoise ordering ablations report

# Every run the report can show: also the seed and tuning sweeps (about 80 minutes more).
everything: denoise ordering ablations seeds tuning report

# --all-targets builds the tests too, so that `make build` and `make test`
# share one feature set and neither recompiles burn after the other.
build:
	$(CARGO) build --release --locked --all-targets $(if $(FEATURES),--features $(FEATURES))

$(BIN): build

data: build
	$(EXPRUN) data

# Task 1 reference experiments: σ = 25 (the brief's level) and σ = 50.
denoise: build
	$(EXPRUN) run experiments/denoise.toml experiments/denoise-sigma50.toml

# Task 2 reference experiment.
ordering: build
	$(EXPRUN) run experiments/ordering.toml

# Task 2 ablations (randomised bit, generic architecture, REINFORCE).
ablations: build
	$(EXPRUN) run experiments/ablations/*.toml

# Both reference experiments over three training seeds (B3).
seeds: build
	$(EXPRUN) run experiments/seeds/ordering.toml experiments/seeds/denoise.toml

# The validation-split comparisons behind the reference choices.
tuning: build
	$(EXPRUN) run experiments/tuning/*.toml

report: build
	$(EXPRUN) report

test:
	$(CARGO) test --release --locked $(if $(FEATURES),--features $(FEATURES))

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Training and inference throughput of the reference models (release build).
bench: build
	$(EXPRUN) bench

# Where a training step of the reference denoiser spends its time: a
# sampling profile (Linux perf, Debian package linux-perf) of `exprun bench`,
# summarised by function.
profile: build
	@command -v perf >/dev/null || { echo "make profile needs Linux perf (Debian: apt-get install linux-perf)"; exit 1; }
	perf record -F 499 -o target/perf.data $(EXPRUN) bench experiments/denoise.toml --seconds 15
	perf report -i target/perf.data --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -20
