#!/usr/bin/env bash
# Side-by-side comparison (not run in CI): zero-nn, a hand-written ndarray baseline, the book's
# NumPy code and PyTorch CPU, on identical synthetic data, at each thread count asked: W1–W5
# (the MLP workloads), W6 SimpleConvNet inference, W7 a SimpleConvNet training epoch, W8
# DeepConvNet inference, W9 a CBOW epoch on PTB, W10 PTB's count-based vectors (PPMI + randomized
# SVD; scikit-learn on the Python side), W11 a training epoch of the sequel's Rnnlm (LSTM) on PTB,
# W12 the test perplexity of its trained Rnnlm.pkl, W13 a training epoch of its AttentionSeq2seq
# on date.txt (zero-nn and PyTorch), W14 its trained AttentionSeq2seq.pkl answering the 5,000 test
# dates one at a time (zero-nn and the book's NumPy). W9-W14 read their files as the project
# does (the download cache, or NN_DATA_MIRROR) and are skipped without them.
#   bash benches/compare/run.sh [RUNS] [THREADS…]   (default 3 runs per workload, medians reported;
#                                                  thread counts default to 1 2, at most nproc)
#   COMPARE_WORKLOADS=W1,W2,W3,W4,W5 bash benches/compare/run.sh …   runs only those workloads
#   COMPARE_ROUNDS=4 bash benches/compare/run.sh …   repeats the whole set 4 times, the peers
#       taking turns, and pools the runs: on a host whose speed drifts, every peer then meets
#       the same slow and fast phases (the table gives the median and the minimum)
# Installs NumPy and PyTorch from PyPI into a virtualenv ($COMPARE_VENV, default
# ~/.cache/zero-nn-compare). Prints a Markdown table and keeps the raw JSON lines in
# target/compare/results.jsonl.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-3}"
shift $(( $# > 0 ? 1 : 0 ))
thread_counts=("$@")
[ ${#thread_counts[@]} -gt 0 ] || thread_counts=(1 2)
for t in "${thread_counts[@]}"; do
    if ! [[ "$t" =~ ^[1-9][0-9]*$ ]] || [ "$t" -gt "$(nproc)" ]; then
        echo "run.sh: thread count '$t' must be between 1 and $(nproc)" >&2
        exit 2
    fi
done
venv="${COMPARE_VENV:-$HOME/.cache/zero-nn-compare}"
out="$root/target/compare"
mkdir -p "$out"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -c "import numpy, torch, sklearn" 2>/dev/null ||
    "$venv/bin/pip" install --quiet "numpy>=2" torch scikit-learn

# Every peer at its best: some machines set these to force OpenBLAS (NumPy's BLAS) onto its AVX2
# kernels on CPUs with AVX-512. Unset for the benchmark processes only (never in tests or CI).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
"$venv/bin/python" -c "import threadpoolctl" 2>/dev/null || "$venv/bin/pip" install --quiet threadpoolctl

(cd "$root" && cargo build --release --quiet --example compare)
workloads="${COMPARE_WORKLOADS:-}"
if ! [[ "$workloads" =~ ^((W[1-9]|W1[0-4])(,(W[1-9]|W1[0-4]))*)?$ ]]; then
    echo "run.sh: COMPARE_WORKLOADS='$workloads' must be a list like W1,W3,W5" >&2
    exit 2
fi
results="$out/results.jsonl"
: > "$results"
{
    echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
    echo "SIMD: $(grep -o 'avx512[a-z_]*\|avx2\|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    "$venv/bin/python" -c "import numpy, torch; print('numpy', numpy.__version__, '| torch', torch.__version__)"
    # Which BLAS kernels NumPy loaded, and PyTorch's thread pools and ISA.
    "$venv/bin/python" -c "import numpy, threadpoolctl; print('numpy BLAS:', threadpoolctl.threadpool_info())"
    (cd "$here" && "$venv/bin/python" torch_bench.py 1 1 --info)
    rustc --version
} | tee "$out/machine.txt"

rounds="${COMPARE_ROUNDS:-1}"
if ! [[ "$rounds" =~ ^[1-9][0-9]*$ ]]; then
    echo "run.sh: COMPARE_ROUNDS='$rounds' must be a positive number" >&2
    exit 2
fi
for round in $(seq "$rounds"); do
    for threads in "${thread_counts[@]}"; do
        echo "== round $round of $rounds, $threads thread(s)" >&2
        # The BLAS libraries read these when they start.
        export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
        "$root/target/release/examples/compare" "$runs" "$threads" $workloads | tee -a "$results"
        (cd "$here" && "$venv/bin/python" book_numpy.py "$runs" "$threads" $workloads) | tee -a "$results"
        (cd "$here" && "$venv/bin/python" torch_bench.py "$runs" "$threads" $workloads) | tee -a "$results"
    done
done
"$venv/bin/python" "$here/table.py" "$results" | tee "$out/table.md"
