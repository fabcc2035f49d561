"""Regenerate docs/kernel-time-tables.txt: the clock's predictions beside the kernel's times.

    python tools/kernel_time_tables.py [--profile FILE.json] [--out docs/kernel-time-tables.txt]

Table (a) comes from the profile's own provenance (``vswap calibrate``
stores the calibration and validation runs' kernel medians and MADs beside
the predictions). Table (b) replays the published setups through the
designs and sets the prediction beside each published mean +/- sd.

PUBLISHED holds the published results. They are the test of the profile,
never its input: nothing in vswap.calibrate reads them.
"""

from __future__ import annotations

import argparse
import sys
import time

from vswap.benchmark import default_machine
from vswap.calibrate import kernel_xarray_probe, summary
from vswap.clock import predict, resolve_profile
from vswap.replay import Machine, replay
from vswap.workloads import memhog, usemem

# (test, workload factory, machine, designs with the published build each stands for,
#  metric -> {build: (mean, sd or None)}, source)
PUBLISHED = [
    ("report usemem 56G, zram, 32 GB", lambda: usemem("56G"), None,
     {"baseline": "baseline", "vss_v5": "vss_v5", "new_opt_v2": "new_opt_v2", "cc_v2": "cc_v2"},
     {"real_s": {"baseline": (175.6, 3.6), "vss_v5": (184.0, 3.9), "new_opt_v2": (179.8, 3.0),
                 "cc_v2": (176.4, 5.3)},
      "sys_s": {"baseline": (121.9, 3.3), "vss_v5": (130.5, 3.8), "new_opt_v2": (126.1, 2.9),
                "cc_v2": (123.6, 5.4)},
      "tput_kbs": {"baseline": (391941, 8333), "vss_v5": (376192, 8581),
                   "new_opt_v2": (382536, 6662), "cc_v2": (390405, 12792)},
      "free_ms": {"baseline": (6992, 204), "vss_v5": (8297, 247), "new_opt_v2": (7105, 183),
                  "cc_v2": (6987, 296)}},
     "seed report (Apr14)"),
    ("report memhog 48G, zram, 16 GB", lambda: memhog("48G"), None,
     {"baseline": "baseline", "vss_v5": "vss_v5", "new_opt_v2": "new_opt_v2", "cc_v2": "cc_v2"},
     {"real_s": {"baseline": (80.5, 1.9), "vss_v5": (83.0, 1.8), "new_opt_v2": (79.9, 1.7),
                 "cc_v2": (79.9, 0.9)},
      "sys_s": {"baseline": (62.7, 2.0), "vss_v5": (65.7, 1.8), "new_opt_v2": (62.4, 1.7),
                "cc_v2": (62.1, 1.5)}},
     "seed report (Apr14)"),
    ("v6 cover usemem 56G (v6 as cc_v2)", lambda: usemem("56G"), None,
     {"baseline": "6.19", "vss_v5": "v5", "cc_v2": "v6"},
     {"real_s": {"6.19": (176.52, None), "v5": (182.12, None), "v6": (176.56, None)},
      "tput_kbs": {"6.19": (390602, None), "v5": (380372, None), "v6": (390524, None)},
      "free_ms": {"6.19": (7287, None), "v5": (8354, None), "v6": (7332, None)}},
     "v6 cover letter (16 runs; no sd published)"),
    ("v6 cover memhog 48G (v6 as cc_v2)", lambda: memhog("48G"), None,
     {"baseline": "6.19", "vss_v5": "v5", "cc_v2": "v6"},
     {"real_s": {"6.19": (80.50, None), "v5": (83.00, None), "v6": (80.64, None)},
      "sys_s": {"6.19": (62.71, None), "v5": (65.72, None), "v6": (62.93, None)}},
     "v6 cover letter (8 runs; no sd published)"),
    ("Kairui: vswap v3 usemem 56G, 31 GB", lambda: usemem("56G"), dict(ram="31G"),
     {"baseline": "6.19", "vswap_v3": "vswap v3"},
     {"free_ms": {"6.19": (5750, None), "vswap v3": (13990, None)},
      "tput_kbs": {"6.19": (618.49 * 1024, None), "vswap v3": (598.67 * 1024, None)}},
     "Kairui Song on v3 (18 runs; MB/s as KB/s; no sd published)"),
    ("phase IV usemem -n 48 1G, brd, 16 GB", lambda: usemem("1G", tasks=48),
     dict(ram="16G", backend="swapfile"),
     {"baseline": "before", "swaptable_p4": "after"},
     {"tput_kbs": {"before": (6482.58 * 1024, None), "after": (6539.28 * 1024, None)},
      "free_ms": {"before": (371.37167, None), "after": (363.05988, None)}},
     "P4 v5 cover (12 runs; throughput is the tasks' sum, free latency per task: "
     "only the change vs base compares)"),
]


def _cell(v: float) -> str:
    return f"{v:,.1f}" if abs(v) < 1e4 else f"{v:,.0f}"


def published_table(profile) -> str:
    from vswap.benchmark import _render
    rows = []
    for test, make, machine, builds, metrics, source in PUBLISHED:
        trace = make()
        m = default_machine(trace, **(machine or {}))
        preds = {d: predict(replay(trace, d, m), profile) for d in builds}
        base = next(iter(builds))
        for metric, values in metrics.items():
            bp = getattr(preds[base], metric)
            bpub = values[builds[base]][0]
            for design, build in builds.items():
                mean, sd = values[build]
                p = getattr(preds[design], metric)
                if design == base:
                    rows.append([test, build, metric, f"{_cell(mean)}" + (f" +/- {_cell(sd)}" if sd
                                                                          else ""),
                                 "base", _cell(p), "base", "-"])
                    continue
                pub_pct = 100 * (mean / bpub - 1)
                pred_pct = 100 * (p / bp - 1)
                if sd is not None:
                    # the published change's spread: the two builds' sds, relative to the base
                    bsd = values[builds[base]][1] or 0.0
                    band = 100 * ((sd / bpub) ** 2 + (bsd / bpub) ** 2) ** 0.5
                    inside = "yes" if abs(pred_pct - pub_pct) <= band else \
                        f"no ({pred_pct - pub_pct:+.1f} pts; band {band:.1f})"
                else:
                    inside = f"no sd ({pred_pct - pub_pct:+.1f} pts)"
                rows.append([test, build, metric,
                             f"{_cell(mean)}" + (f" +/- {_cell(sd)}" if sd else ""),
                             f"{pub_pct:+.1f}%", _cell(p), f"{pred_pct:+.1f}%", inside])
        rows.append(["", "", "", "", "", "", "", ""])
    return _render(f"(b) Predicted (profile {profile.name}) vs published: absolute values differ "
                   f"by machine; the change vs base is the test",
                   ["test", "build", "metric", "published", "vs base", "predicted", "vs base",
                    "inside the published spread"], rows[:-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", help="profile file (default: the shipped one)")
    ap.add_argument("--out", default="docs/kernel-time-tables.txt")
    args = ap.parse_args(argv)
    profile = resolve_profile(args.profile)
    t0 = time.monotonic()
    report = profile.provenance.get("report", {})
    probe = kernel_xarray_probe()
    parts = [f"Generated by tools/kernel_time_tables.py from profile {profile.name} "
             f"({profile.provenance.get('command')}, {profile.provenance.get('date')}, "
             f"kernel {profile.provenance.get('kernel')}).",
             "",
             "(a) " + summary(profile, report),
             "",
             published_table(profile),
             "",
             "The kernel's own xarray walk (mincore over a sparse memfd: one page cache lookup "
             "per page; ns per page, median of 7):",
             "  " + ", ".join(f"{k} {v:.1f}" for k, v in probe.items())]
    text = "\n".join(parts) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    print(f"wrote {args.out} in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
