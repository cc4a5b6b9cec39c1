# Set-up and everyday commands. Everything builds into one target dir with one feature set
# (`--all-targets`), so `make test`, `make demo` and `make build` share their artifacts.

CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed
# Template tooling, in venvs of their own (aws-sam-cli and checkov pin conflicting boto3 versions).
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam
# Where cargo puts what it builds: CARGO_TARGET_DIR (or a .cargo/config setting) when set, ./target
# otherwise. Every target that runs a built binary runs it from here.
TARGET_DIR := $(shell $(CARGO) metadata --format-version 1 --no-deps 2>/dev/null | $(PYTHON) -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null || echo target)
BIN := $(TARGET_DIR)/release

.PHONY: all build deploy-build test lint lint-template demo venv invoke sam-build bench clean

all: test

# Project-local venv with the pinned moto server (the tests start it themselves).
venv: $(VENV_STAMP)
$(VENV_STAMP): requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

# Tool venvs, one per requirements file (.venv-sam <- requirements-sam.txt, and so on): aws-sam-cli,
# checkov and Cloud Custodian pin conflicting boto3 versions.
.venv-%/.installed: requirements-%.txt
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

# Release-shaped binaries: $(BIN)/{s3-public-access,...} plus the test rig (local-invoke, demo, bench).
build:
	$(CARGO) build --release --workspace --all-targets

# Unit, property and end-to-end tests (real binaries under the Runtime API emulator, against moto).
test: venv build
	$(CARGO) test --release --workspace

lint: lint-template
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

# The SAM template: SAM's own linter, cfn-lint on the translated CloudFormation (plain cfn-lint stops
# at AWS::Serverless resources), and checkov (skips are justified next to them in the template).
lint-template: $(SAM_STAMP) $(CHECKOV_STAMP)
	$(SAM) validate --lint --region us-east-1
	mkdir -p $(TARGET_DIR)
	AWS_DEFAULT_REGION=us-east-1 $(SAM_VENV)/bin/python tools/translate_template.py template.yaml $(TARGET_DIR)/template.translated.json
	$(SAM_VENV)/bin/cfn-lint $(TARGET_DIR)/template.translated.json
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --quiet --compact --skip-download
	# The member template (plain CloudFormation): the same three tools.
	$(SAM) validate --lint --region us-east-1 --template member.yaml
	$(SAM_VENV)/bin/cfn-lint member.yaml
	$(CHECKOV_VENV)/bin/checkov --file member.yaml --framework cloudformation --quiet --compact --skip-download

# `sam build` through cargo-lambda (pip brings zig for cross-compiling), for the one architecture that
# `sam deploy` uses too: Architecture in samconfig.toml's deploy parameter_overrides (arm64 needs
# `rustup target add aarch64-unknown-linux-gnu`). To build for x86_64, change it there; an ARCH= that
# disagrees with it stops here, before a binary the function cannot execute is built.
# SAM builds with `cargo lambda build --release` and has no way to name a profile: cargo's own
# environment overrides give its release build the settings of [profile.deploy] in Cargo.toml (a
# test keeps the two the same).
SAM_DEPLOY_PROFILE := CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_OPT_LEVEL=z
SAM_ARCH = $(shell $(PYTHON) tools/sam_architecture.py samconfig.toml)
sam-build: $(SAM_STAMP)
	$(if $(filter-out $(SAM_ARCH),$(ARCH)),$(error ARCH=$(ARCH), but samconfig.toml deploys Architecture=$(SAM_ARCH): set it there, sam deploy reads it too))
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check cargo-lambda==1.9.2
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(SAM_DEPLOY_PROFILE) $(SAM) build --parameter-overrides Architecture=$(SAM_ARCH)

# The function binaries as they deploy, in $(TARGET_DIR)/deploy: the `deploy` profile (fat LTO, one
# codegen unit, optimized for size). A build of its own, so the tests keep their quicker profile.
FUNCTIONS := s3-public-access open-security-group untagged-instance config-rule
deploy-build:
	$(CARGO) build --profile deploy $(addprefix --bin ,$(FUNCTIONS))

# Cold start (and where init goes), latency, memory, size of both profiles, AWS calls against the
# round-trip floor, Cloud Custodian's event path, sweeps of 1,000 and 10,000 instances, 1,000 groups
# and 1,000 buckets against a bare client's floor, and Cloud Custodian on the same estate.
# Writes bench/results/latest.{json,md,svg}.
# Smaller: make bench BENCH_INSTANCE_SWEEPS=1000 (see tests/src/bin/bench/main.rs for the knobs).
# BENCH_PROFILE=release measures the test rig's binaries as if deployed, without the deploy build
# (the CI smoke run: a cold fat-LTO build takes tens of minutes on 2 cores).
BENCH_PROFILE ?= deploy
bench: venv build $(if $(filter deploy,$(BENCH_PROFILE)),deploy-build) $(BENCH_STAMP)
	BENCH_PROFILE=$(BENCH_PROFILE) $(BIN)/bench

# The remediations at work on a pretend account, printed before and after.
demo: venv build
	$(BIN)/demo

# One function, one event, no Docker: make invoke FUNCTION=s3-public-access EVENT=events/s3-public-access/put-bucket-acl-allusers-read.json
invoke: venv build
	$(BIN)/local-invoke $(FUNCTION) $(EVENT) $(ARGS)

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(BENCH_VENV) .aws-sam
