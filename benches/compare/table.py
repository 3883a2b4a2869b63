"""Reads the JSON lines of run.sh (one results file, or several runs' files pooled) and prints,
per workload, each implementation's median time over all its runs (every round pooled), its
minimum, its rate at the median, and both relative to zero-nn at the same thread count (> 1:
slower than zero-nn)."""
import json
import statistics
import sys
from collections import defaultdict

pooled = defaultdict(list)
meta = {}
notes = {}
lines = [line for path in sys.argv[1:] for line in open(path)]
for line in lines:
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    key = (r["workload"], r["threads"], r["impl"])
    pooled[key] += r.get("runs_s") or [r["median_s"]]
    # Work per run, from the line's own rate and median.
    meta[key] = (r["rate"] * r["median_s"], r["unit"])
    if "note" in r:
        notes[key] = r["note"]

stats = {key: (statistics.median(ts), min(ts), len(ts)) for key, ts in pooled.items()}
ours = {(w, t): s for (w, t, impl), s in stats.items() if impl == "zero-nn"}


def shown(t):
    if t < 1e-3:
        return f"{t * 1e6:.1f} µs"
    return f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.3f} s"


print("| workload | implementation | threads | median | min | runs | rate (median) "
      "| time / zero-nn (median, min) |")
print("|---|---|---|---|---|---|---|---|")
order = {"zero-nn": 0, "ndarray by hand": 1}
for key in sorted(stats, key=lambda k: (k[0], k[1], order.get(k[2], 2), k[2])):
    workload, threads, impl = key
    median, least, n = stats[key]
    base = ours.get((workload, threads)) or ours.get((workload, 1))
    ratio = f"{median / base[0]:.2f}, {least / base[1]:.2f}" if base else "—"
    work, unit = meta[key]
    rate = work / median
    if unit == "GFLOP/s":
        rate = f"{rate:.1f} GFLOP/s"
    else:
        rate = f"{rate:,.0f} {unit}" if rate >= 100 else f"{rate:.3g} {unit}"
    print(f"| {workload} | {impl} | {threads} | {shown(median)} | {shown(least)} | {n} | {rate} "
          f"| {ratio} |")
for (workload, threads, impl), note in sorted(notes.items()):
    print(f"\n{workload}, {impl}, {threads} thread(s): {note}.")
