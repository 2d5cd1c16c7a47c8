#!/usr/bin/env bash
# One-shot GPU check for a machine with a GPU: install rustdl, run the GPU tests, benchmark sgemm
# (1024/2048/4096), MLP and LeNet training steps (live and captured, with dispatches per step and
# host time per dispatch), a VGG block's convolutions and cross-entropy 512x1000, each next to
# PyTorch CUDA (TF32 off) when present.
#
#   benchmarks/gpu_check.sh [path/to/rustdl-*.whl]
#
# With a wheel (built elsewhere by `maturin build --release`, abi3), nothing is compiled here;
# without one, the extension is built with maturin (needs Rust). Results go to $OUT (or
# ./gpu_check_out): gpu_check.json, pytest.log.
#
# SWEEP="NAME:VARIANTS:SPLITK ..." also runs benchmarks/kernel_sweep.py with those
# configurations (kernel_sweep.json); it needs a wheel built with `-F python,shader-dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
export RUSTDL_REQUIRE_GPU=1 PYTHONUNBUFFERED=1
# the matmul tiles measured on this adapter are kept with the results
export RUSTDL_CACHE_DIR="$(cd "$OUT" && pwd)/cache"
PY=${PYTHON:-python3}
if [ $# -ge 1 ]; then
  $PY -m pip install -q --no-deps --force-reinstall --target /tmp/rustdl-site "$1"
  export PYTHONPATH=/tmp/rustdl-site${PYTHONPATH:+:$PYTHONPATH}
else
  $PY -m pip install -q maturin && $PY -m maturin build --release -q -o /tmp/rustdl-wheels
  $PY -m pip install -q --no-deps --force-reinstall --target /tmp/rustdl-site /tmp/rustdl-wheels/rustdl-*.whl
  export PYTHONPATH=/tmp/rustdl-site${PYTHONPATH:+:$PYTHONPATH}
fi
$PY -c "import rustdl; assert rustdl.gpu.is_available(), 'no GPU adapter'; print(rustdl.gpu.adapter_info())"
# GPU cases of the Python suite (the tests import rustdl from PYTHONPATH)
$PY -m pytest -q -p no:cacheprovider tests/python -k "gpu" --rootdir . 2>&1 | tee "$OUT/pytest.log" | tail -3
$PY benchmarks/gpu_check.py --out "$OUT"
if [ -n "${SWEEP:-}" ]; then
  args=()
  for c in $SWEEP; do args+=(--config "$c"); done
  $PY benchmarks/kernel_sweep.py --out "$OUT" "${args[@]}"
fi
