"""Reads the JSON lines of run.sh and prints, per workload, each implementation's median time,
its rate, and its time relative to zero-nn at the same thread count (> 1: slower than zero-nn)."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
ours = {(r["workload"], r["threads"]): r["median_s"] for r in rows if r["impl"] == "zero-nn"}
print("| workload | implementation | threads | median | rate | time / zero-nn |")
print("|---|---|---|---|---|---|")
order = {"zero-nn": 0, "ndarray by hand": 1}
for r in sorted(rows, key=lambda r: (r["workload"], r["threads"], order.get(r["impl"], 2), r["impl"])):
    base = ours.get((r["workload"], r["threads"])) or ours.get((r["workload"], 1))
    ratio = f"{r['median_s'] / base:.2f}" if base else "—"
    t = r["median_s"]
    shown = f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.3f} s"
    if t < 1e-3:
        shown = f"{t * 1e6:.1f} µs"
    rate = f"{r['rate']:,.0f} {r['unit']}" if r["unit"] != "GFLOP/s" else f"{r['rate']:.1f} GFLOP/s"
    print(f"| {r['workload']} | {r['impl']} | {r['threads']} | {shown} | {rate} | {ratio} |")
