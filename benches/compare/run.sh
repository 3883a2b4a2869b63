#!/usr/bin/env bash
# Side-by-side comparison (not run in CI): zero-nn, a hand-written ndarray baseline, the book's
# NumPy code and PyTorch CPU, on identical synthetic data, at 1 and 2 threads.
#   bash benches/compare/run.sh [RUNS]      (default 3 runs per workload; medians are reported)
# Installs NumPy and PyTorch from PyPI into a virtualenv ($COMPARE_VENV, default
# ~/.cache/zero-nn-compare). Prints a Markdown table and keeps the raw JSON lines in
# target/compare/results.jsonl.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-3}"
venv="${COMPARE_VENV:-$HOME/.cache/zero-nn-compare}"
out="$root/target/compare"
mkdir -p "$out"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -c "import numpy, torch" 2>/dev/null ||
    "$venv/bin/pip" install --quiet "numpy>=2" torch

(cd "$root" && cargo build --release --quiet --example compare)
results="$out/results.jsonl"
: > "$results"
{
    echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
    "$venv/bin/python" -c "import numpy, torch; print('numpy', numpy.__version__, '| torch', torch.__version__)"
    rustc --version
} | tee "$out/machine.txt"

for threads in 1 2; do
    echo "== $threads thread(s)" >&2
    # The BLAS libraries read these when they start.
    export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
    "$root/target/release/examples/compare" "$runs" "$threads" | tee -a "$results"
    (cd "$here" && "$venv/bin/python" book_numpy.py "$runs" "$threads") | tee -a "$results"
    (cd "$here" && "$venv/bin/python" torch_bench.py "$runs" "$threads") | tee -a "$results"
done
"$venv/bin/python" "$here/table.py" "$results" | tee "$out/table.md"
