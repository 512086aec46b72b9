#!/usr/bin/env python3
"""storyforge against Pillow on the reference Story, side by side in one run.

Prints a Markdown table (also written to benches/work/results.md):
throughput on one core and on both cores, and storyforge's peak memory on a
100-row and a 10,000-row feed. Run through `make bench` (benches/compare.sh),
which builds storyforge in release and installs Pillow in a venv.
"""
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work")
BIN = os.path.join(ROOT, "target", "release", "storyforge")
TEMPLATE = os.path.join(HERE, "reference", "story.yaml")
FEED = os.path.join(HERE, "reference", "feed.csv")
PY = sys.executable
REPEAT = 3


def peak_rss_kib(cmd):
    """Runs cmd in a fresh wrapper process; returns (seconds, peak RSS KiB)."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
               "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([PY, "-c", wrapper, *cmd], check=True, capture_output=True, text=True).stdout
    secs, rss = out.split()
    return float(secs), int(rss)


def best_time(cmd, out_dir):
    times = []
    for _ in range(REPEAT):
        shutil.rmtree(out_dir, ignore_errors=True)
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return min(times)


def rows(path):
    with open(path) as f:
        return sum(1 for _ in f) - 1


def main():
    os.makedirs(WORK, exist_ok=True)
    n = rows(FEED)
    one_core = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    out = os.path.join(WORK, "out")
    pillow = [PY, os.path.join(HERE, "pillow_reference.py"), FEED, out]
    sf = [BIN, "render", TEMPLATE, "--data", FEED, "--out", out, "-q", "--today", "2026-11-29"]
    runs = [
        ("Pillow, background redrawn per Story, 1 core", one_core + pillow),
        ("Pillow, background drawn once and copied, 1 core", one_core + pillow + ["--cache-background"]),
        ("storyforge, 1 core (`--jobs 1`)", one_core + sf + ["--jobs", "1"]),
        ("storyforge, 2 cores (`--jobs 2`)", sf + ["--jobs", "2"]),
    ]
    raqm = subprocess.run([PY, "-c", "from PIL import features; print(features.check('raqm'))"],
                          capture_output=True, text=True).stdout.strip()
    print(f"Pillow text layout: {'Raqm (HarfBuzz + FriBiDi)' if raqm == 'True' else 'basic (no shaping)'}",
          file=sys.stderr)
    results = []
    for name, cmd in runs:
        secs = best_time(cmd, out)
        results.append((name, n / secs, secs * 1000 / n))
        print(f"{name}: {n / secs:.1f} Stories/s", file=sys.stderr)
    pillow_best = max(r[1] for r in results[:2])
    lines = ["| run | Stories/s | ms per Story | vs best Pillow (1 core) |", "|---|---|---|---|"]
    for name, rate, ms in results:
        lines.append(f"| {name} | {rate:.1f} | {ms:.2f} | {rate / pillow_best:.2f}× |")

    mem = []
    for count in (100, 10_000):
        feed = os.path.join(WORK, f"feed-{count}.csv")
        subprocess.run([PY, os.path.join(HERE, "make_feed.py"), str(count), feed], check=True)
        shutil.rmtree(out, ignore_errors=True)
        secs, rss = peak_rss_kib([BIN, "render", TEMPLATE, "--data", feed, "--out", out, "-q"])
        mem.append((count, rss, secs))
        print(f"{count} rows: peak {rss / 1024:.1f} MiB in {secs:.1f} s", file=sys.stderr)
    shutil.rmtree(out, ignore_errors=True)
    lines += ["", "| feed rows | storyforge peak RSS | wall time (2 cores) |", "|---|---|---|"]
    for count, rss, secs in mem:
        lines.append(f"| {count:,} | {rss / 1024:.1f} MiB | {secs:.1f} s |")
    lines.append(f"\nPeak ratio 10,000 / 100 rows: {mem[1][1] / mem[0][1]:.2f}×")
    report = "\n".join(lines)
    print(report)
    with open(os.path.join(WORK, "results.md"), "w") as f:
        f.write(report + "\n")


if __name__ == "__main__":
    main()
