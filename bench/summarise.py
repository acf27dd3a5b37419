#!/usr/bin/python3
"""Tables of BENCHMARKS.md from the JSON lines of bench/run.sh: for each measurement the median
over rounds of the per-round medians, per thread count; the best thread count of each side; the
ratio advinst / PyTorch; the fraction of the FMA peak per layer.

    bench/summarise.py results.jsonl
"""
import json
import statistics
import sys
from collections import defaultdict


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
    vals = defaultdict(list)    # (name, threads) -> values
    peak, loads, cores = {}, [], set()
    for r in rows:
        if r.get("bench") == "load":
            loads.append(r["loadavg"])
            continue
        if r.get("bench") == "peak":
            peak[r["threads"]] = r
            cores.add(r["blas_core"])
            continue
        t = r.get("threads")
        if r.get("implementation") == "pytorch":
            for k, v in r["results"].items():
                vals[("torch_" + k, t)].append(v["median_ms"])
                if "cpu_median_ms" in v:
                    vals[("torch_" + k + "_cpu", t)].append(v["cpu_median_ms"])
            continue
        cores.add(r.get("blas_core", "?"))
        if "grad_batch_ms" in r:
            vals[("batch%d_per_clip" % r["batch"], t)].append(r["grad_batch_per_clip_ms"])
            vals[("batch_one", t)].append(r["grad_one_ms"])
        elif "cw_ms" in r:
            sfx = "" if r.get("rate", 16000) == 16000 else "_%d" % r["rate"]
            vals[("cw" + sfx, t)].append(r["cw_ms"])
            vals[("mscw" + sfx, t)].append(r["mscw_ms"])
            if "cw_cpu_ms" in r:
                vals[("cw_cpu" + sfx, t)].append(r["cw_cpu_ms"])
                vals[("mscw_cpu" + sfx, t)].append(r["mscw_cpu_ms"])
        elif "train_step_ms" in r:
            vals[("train", t)].append(r["train_step_ms"])
            if "train_step_cpu_ms" in r:
                vals[("train_cpu", t)].append(r["train_step_cpu_ms"])
        elif "grad_ms" in r:
            for k in ("classify_ms", "grad_ms", "net_fwd_ms", "net_bwd_ms", "frontend_fwd_ms", "frontend_bwd_ms"):
                vals[(k[:-3], t)].append(r[k])
            if "grad_cpu_ms" in r:
                vals[("grad_cpu", t)].append(r["grad_cpu_ms"])
    med = {k: statistics.median(v) for k, v in vals.items()}

    def best(name):
        c = [(med[(name, t)], t) for t in (1, 2) if (name, t) in med]
        return min(c) if c else (float("nan"), 0)

    def cell(name, t):
        return "%.2f" % med[(name, t)] if (name, t) in med else "-"

    print("OpenBLAS kernels: %s; load average during the rounds: %s\n" % (", ".join(sorted(cores)), "; ".join(loads)))
    print("| | advinst 1 thread | advinst 2 threads | PyTorch 1 thread | PyTorch 2 threads | ratio (best / best) | goal |")
    print("|---|---|---|---|---|---|---|")
    for label, ours, theirs, goal in (("forward + gradient to the waveform, 3.7 s (ms)", "grad", "torch_grad", 0.30),
                                      ("one C&W iteration, 3.7 s at 16 kHz (ms)", "cw", "torch_cw", 0.25),
                                      ("training step, batch 16 (ms)", "train", "torch_train", 0.8),
                                      ("classify (front end + forward) (ms)", "classify", "torch_classify", None)):
        a, b = best(ours), best(theirs)
        ratio = a[0] / b[0]
        verdict = "" if goal is None else (" (%s)" % ("met" if ratio <= goal else "not met"))
        print("| %s | %s | %s | %s | %s | %.2f | %s%s |" % (label, cell(ours, 1), cell(ours, 2), cell(theirs, 1),
                                                           cell(theirs, 2), ratio, "<= %.2f" % goal if goal else "-", verdict))
    a, b = best("mscw_48000"), best("mscw")
    print("| one MS-C&W iteration, 48 kHz vs 16 kHz (ms) | %s / %s | %s / %s | | | %.2f (48k / 16k) | <= 1.3 (%s) |"
          % (cell("mscw_48000", 1), cell("mscw", 1), cell("mscw_48000", 2), cell("mscw", 2), a[0] / b[0],
             "met" if a[0] / b[0] <= 1.3 else "not met"))
    print()
    print("One thread, process CPU time (the time each side actually ran on the shared machine):\n")
    print("| | advinst | PyTorch | ratio | goal |")
    print("|---|---|---|---|---|")
    for label, ours, theirs, goal in (("forward + gradient to the waveform, 3.7 s (ms)", "grad_cpu", "torch_grad_cpu", 0.30),
                                      ("one C&W iteration, 3.7 s at 16 kHz (ms)", "cw_cpu", "torch_cw_cpu", 0.25),
                                      ("training step, batch 16 (ms)", "train_cpu", "torch_train_cpu", 0.8)):
        if (ours, 1) in med and (theirs, 1) in med:
            ratio = med[(ours, 1)] / med[(theirs, 1)]
            print("| %s | %.2f | %.2f | %.2f | <= %.2f (%s) |" % (label, med[(ours, 1)], med[(theirs, 1)], ratio, goal,
                                                             "met" if ratio <= goal else "not met"))
    if ("mscw_cpu_48000", 1) in med and ("mscw_cpu", 1) in med:
        a, b = med[("mscw_cpu_48000", 1)], med[("mscw_cpu", 1)]
        print("| one MS-C&W iteration, 48 kHz / 16 kHz (ms) | %.2f / %.2f | | %.2f | <= 1.3 (%s) |" % (a, b, a / b, "met" if a / b <= 1.3 else "not met"))
    print()
    print("Batched classifier, forward + gradient of 3.7 s windows at 48 kHz, ms per window:\n")
    print("| threads | batch 1 | batch 2 | batch 4 | batch 8 |")
    print("|---|---|---|---|---|")
    for t in (1, 2):
        print("| %d | %s | %s | %s | %s |" % (t, cell("batch_one", t), cell("batch2_per_clip", t), cell("batch4_per_clip", t),
                                             cell("batch8_per_clip", t)))
    for t, p in sorted(peak.items()):
        print("\nPer layer, one 116-frame clip, %d thread(s): FMA loop peak %.1f GFLOP/s (%s)\n" % (t, p["fma_peak_gflops"], p["isa"]))
        print("| layer | algorithm | GEMM (M x N x K) | MFLOP | sgemm alone | forward | input gradient |")
        print("|---|---|---|---|---|---|---|")
        for l in p["layers"]:
            pk = p["fma_peak_gflops"]
            print("| %s | %s | %d x %d x %d | %.1f | %.1f GFLOP/s (%.0f %%) | %.3f ms, %.1f GFLOP/s (%.0f %%) | %.3f ms, %.1f GFLOP/s (%.0f %%) |"
                  % (l["layer"], l["algo"], *l["gemm"], l["mflop"], l["sgemm_gflops"], 100 * l["sgemm_gflops"] / pk,
                     l["fwd_ms"], l["fwd_gflops"], 100 * l["fwd_gflops"] / pk, l["bwd_ms"], l["bwd_gflops"],
                     100 * l["bwd_gflops"] / pk))
        tot_f = sum(l["mflop"] for l in p["layers"])
        tf = sum(l["fwd_ms"] for l in p["layers"])
        tb = sum(l["bwd_ms"] for l in p["layers"])
        print("| all | | | %.1f | | %.3f ms, %.1f GFLOP/s (%.0f %%) | %.3f ms, %.1f GFLOP/s (%.0f %%) |"
              % (tot_f, tf, tot_f / tf, 100 * tot_f / tf / p["fma_peak_gflops"], tb, tot_f / tb,
                 100 * tot_f / tb / p["fma_peak_gflops"]))


if __name__ == "__main__":
    main()
