# Set-up and everyday commands. Everything builds into one target dir with one feature set
# (`--all-targets`), so `make test`, `make demo` and `make build` share their artifacts.

CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed

.PHONY: all build test lint demo venv invoke clean

all: test

# Project-local venv with the pinned moto server (the tests start it themselves).
venv: $(VENV_STAMP)
$(VENV_STAMP): requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

# Release-shaped binaries: target/release/{s3-public-access,...} plus the test rig (local-invoke, demo).
build:
	$(CARGO) build --release --workspace --all-targets

# Unit, property and end-to-end tests (real binaries under the Runtime API emulator, against moto).
test: venv build
	$(CARGO) test --release --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

# The remediations at work on a pretend account, printed before and after.
demo: venv build
	./target/release/demo

# One function, one event, no Docker: make invoke FUNCTION=s3-public-access EVENT=events/s3-public-access/put-bucket-acl-allusers-read.json
invoke: venv build
	./target/release/local-invoke $(FUNCTION) $(EVENT) $(ARGS)

clean:
	$(CARGO) clean
	rm -rf $(VENV)
