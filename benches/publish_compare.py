#!/usr/bin/env python3
"""Publishing wall time against the Graph API's own floor (issue 25).

Run through `make bench-publish` (benches/publish_compare.sh). For each case
it starts `storyforge sandbox` as its own process with M accounts (tokens
from a sandbox config) and per-container processing times drawn from
Instagram's ranges (images 2-10 s, videos 30-60 s) times the case's scale
factor, schedules N distinct Stories per account as due now
(`storyforge schedule add`, not timed), times ONE `storyforge tick` that
publishes them all, checks from the sandbox's own record that each Story went
out once, and prints the wall time beside the floor.

Every wait storyforge is configured with (publish_spacing 5 s, image_poll
1 s, video_poll 5 s, retry, not-ready, gone and slow-down waits) is scaled
by the same factor. Deadlines are not (they are never reached).

Floor (the API's, for the same work), from the processing times the sandbox
drew (`processing_ms` in /_sandbox/published):

    floor = max over accounts a of ( max_i p(a, i) + (n_a - 1) * spacing )

each account's containers processed side by side, then its n_a publishes
`spacing` apart; all accounts at once. This is the issue's floor, the one
the targets are stated against. It is generous to a flow that publishes
each container as soon as it is FINISHED, so the table also shows the
tighter floor of that flow (the Stories of one account in finishing order,
each at max(its processing time, the previous publish + spacing)).

Prints a Markdown table and writes benches/work/publish-results.md.
Options: --bin PATH (default target/release/storyforge), --case NAME
(repeatable: images, videos, agency), --scale F (every case at factor F
instead of its own), --keep (keep the work folders), --ledger-dir DIR (the
ledger there instead of in the work folder, e.g. /dev/shm to see what the
ledger's fsyncs cost).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work")

# Instagram's processing times, seconds, and storyforge's default waits.
IMAGE_RANGE = (2.0, 10.0)
VIDEO_RANGE = (30.0, 60.0)
SPACING = 5.0
WAITS = {
    "publish_spacing": SPACING,
    "image_poll": 1.0,
    "video_poll": 5.0,
    "retry_base": 2.0,
    "rate_limit_base": 60.0,
    "not_ready_wait": 5.0,
    "gone_wait": 40.0,
    "slow_down_max": 60.0,
}

# name, accounts, Stories per account, kind, scale factor, target (x floor)
CASES = [
    ("images", 3, 4, "image", 0.1, 1.2),
    ("videos", 2, 3, "video", 0.1, 1.2),
    ("agency", 100, 5, "image", 0.1, 1.5),
]


def args():
    a = sys.argv[1:]
    opts = {"bin": os.path.join(ROOT, "target", "release", "storyforge"), "cases": [], "keep": False, "scale": None,
            "ledger_dir": None}
    i = 0
    while i < len(a):
        if a[i] in ("--bin", "--case", "--scale", "--ledger-dir") and i + 1 == len(a):
            sys.exit(f"publish_compare.py: {a[i]} needs a value")
        if a[i] == "--bin":
            opts["bin"] = os.path.abspath(a[i + 1])
            i += 1
        elif a[i] == "--case":
            opts["cases"].append(a[i + 1])
            i += 1
        elif a[i] == "--scale":
            opts["scale"] = float(a[i + 1])
            if not 0 < opts["scale"] <= 1:
                sys.exit("publish_compare.py: --scale takes a factor in (0, 1]")
            i += 1
        elif a[i] == "--ledger-dir":
            opts["ledger_dir"] = os.path.abspath(a[i + 1])
            i += 1
        elif a[i] == "--keep":
            opts["keep"] = True
        else:
            sys.exit(f"publish_compare.py: unknown argument {a[i]!r} (--bin PATH, --case NAME, --scale F, --keep, --ledger-dir DIR)")
        i += 1
    known = {c[0] for c in CASES}
    for c in opts["cases"]:
        if c not in known:
            sys.exit(f"publish_compare.py: no case {c!r} (cases: {', '.join(sorted(known))})")
    return opts


def jpeg_variant(base, i):
    """A valid JPEG made distinct by a comment segment after SOI."""
    text = f"bench story {i}".encode()
    seg = b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text
    return base[:2] + seg + base[2:]


def mp4_variant(base, i):
    """A valid MP4 made distinct by a trailing top-level `free` box."""
    text = f"bench story {i}".encode()
    return base + (len(text) + 8).to_bytes(4, "big") + b"free" + text


def account_id(i):
    return f"1784150{i:010d}"


def start_sandbox(bin_, work, media, accounts, kind, scale):
    lo, hi = IMAGE_RANGE if kind == "image" else VIDEO_RANGE
    key = f"{kind}_processing"
    lines = [
        f"{key}_ms: {int(lo * scale * 1000)}",
        f"{key}_max_ms: {int(hi * scale * 1000)}",
        "accounts:",
    ]
    for i in range(accounts):
        lines += [
            f'  - id: "{account_id(i)}"',
            f"    username: bench_{i}",
            f"    token: bench-token-{i}",
        ]
    cfg = os.path.join(work, "sandbox.yaml")
    with open(cfg, "w") as f:
        f.write("\n".join(lines) + "\n")
    proc = subprocess.Popen(
        [bin_, "sandbox", "--port", "0", "--media-dir", media, "--sandbox-config", cfg],
        stdout=subprocess.PIPE,
        stderr=open(os.path.join(work, "sandbox.log"), "w"),
        text=True,
    )
    for line in proc.stdout:
        if "base URL:" in line:
            return proc, line.split("base URL:")[1].strip()
    proc.wait()
    sys.exit(f"storyforge sandbox ended before listening; see {work}/sandbox.log")


def write_settings(work, media, base, accounts, scale, ledger_dir=None):
    graph = "".join(f"  {k}: {v * scale:g}\n" for k, v in WAITS.items())
    ledger = os.path.join(ledger_dir or work, "ledger.db")
    yaml = (
        f"ledger: {ledger}\n"
        f"storage:\n  kind: local\n  dir: {media}\n  base_url: {base}/media/\n"
        f"graph:\n  base_url: {base}\n{graph}"
        "accounts:\n"
    )
    for i in range(accounts):
        token = os.path.join(work, f"acc{i}.token")
        with open(token, "w") as f:
            f.write(f"bench-token-{i}")
        os.chmod(token, 0o600)
        yaml += f'  - name: acc{i}\n    ig_user_id: "{account_id(i)}"\n    token_file: {token}\n'
    path = os.path.join(work, "storyforge.yaml")
    with open(path, "w") as f:
        f.write(yaml)
    return path


def as_finished(processing, spacing):
    """When an account's last Story can go out at the earliest: each
    published once FINISHED and `spacing` after the one before."""
    t = None
    for p in sorted(processing):
        t = p if t is None else max(p, t + spacing)
    return t


def run_case(opts, name, accounts, per, kind, scale, target):
    work = tempfile.mkdtemp(prefix=f"publish-{name}-", dir=WORK)
    media = os.path.join(work, "media")
    inputs = os.path.join(work, "in")
    os.makedirs(media)
    os.makedirs(inputs)
    sandbox, base = start_sandbox(opts["bin"], work, media, accounts, kind, scale)
    try:
        ledger_dir = None
        if opts["ledger_dir"]:
            ledger_dir = tempfile.mkdtemp(prefix=f"publish-{name}-", dir=opts["ledger_dir"])
        config = write_settings(work, media, base, accounts, scale, ledger_dir)
        src = os.path.join(ROOT, "fixtures", "bad", "ok-story.jpg" if kind == "image" else "ok-video.mp4")
        with open(src, "rb") as f:
            base_bytes = f.read()
        variant, ext = (jpeg_variant, "jpg") if kind == "image" else (mp4_variant, "mp4")
        at = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(timespec="seconds")
        n = 0
        for a in range(accounts):
            for s in range(per):
                path = os.path.join(inputs, f"acc{a}-{s}.{ext}")
                with open(path, "wb") as f:
                    f.write(variant(base_bytes, n))
                n += 1
                subprocess.run(
                    [opts["bin"], "schedule", "add", path, "--at", at, "--account", f"acc{a}", "--config", config],
                    check=True, stdout=subprocess.DEVNULL,
                )
        t0 = time.monotonic()
        tick = subprocess.run(
            [opts["bin"], "tick", "--config", config, "--out", os.path.join(work, "out")],
            capture_output=True, text=True,
        )
        wall = time.monotonic() - t0
        with open(os.path.join(work, "tick.log"), "w") as f:
            f.write(tick.stdout + tick.stderr)
        with urllib.request.urlopen(f"{base}/_sandbox/published") as r:
            published = json.load(r)
    finally:
        sandbox.terminate()
        sandbox.wait()
    urls = [p["media_url"] for p in published]
    if tick.returncode != 0 or len(published) != n or len(set(urls)) != n:
        sys.exit(
            f"case {name}: tick exited {tick.returncode}, the sandbox published {len(published)} "
            f"({len(set(urls))} distinct) of {n} Stories; see {work}/tick.log"
        )
    spacing = SPACING * scale
    per_account = {}
    for p in published:
        per_account.setdefault(p["account_id"], []).append(p["processing_ms"] / 1000.0)
    floor = max(max(ps) + (len(ps) - 1) * spacing for ps in per_account.values())
    tight = max(as_finished(ps, spacing) for ps in per_account.values())
    if not opts["keep"]:
        shutil.rmtree(work, ignore_errors=True)
        if ledger_dir:
            shutil.rmtree(ledger_dir, ignore_errors=True)
    return {
        "case": f"{accounts} accounts x {per} {kind}s",
        "scale": scale,
        "stories": n,
        "wall": wall,
        "floor": floor,
        "tight": tight,
        "ratio": wall / floor,
        "target": target,
    }


def main():
    opts = args()
    if not os.path.exists(opts["bin"]):
        sys.exit(f"{opts['bin']}: not built (cargo build --release --locked)")
    os.makedirs(WORK, exist_ok=True)
    rows = []
    for case in CASES:
        if opts["cases"] and case[0] not in opts["cases"]:
            continue
        if opts["scale"] is not None:
            case = (*case[:4], opts["scale"], case[5])
        print(f"case {case[0]}: {case[1]} accounts x {case[2]} {case[3]}s, scale {case[4]:g} ...", file=sys.stderr)
        rows.append(run_case(opts, *case))
    out = [
        "| case | scale | Stories | wall (s) | floor (s) | wall / floor | target | floor as finished (s) | wall / that |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['case']} | {r['scale']:g} | {r['stories']} | {r['wall']:.2f} | {r['floor']:.2f} "
            f"| {r['ratio']:.2f}x | {r['target']}x | {r['tight']:.2f} | {r['wall'] / r['tight']:.2f}x |"
        )
    out.append("")
    out.append(
        "Instagram's processing times (images 2-10 s, videos 30-60 s) and every wait storyforge is "
        "configured with (publish_spacing 5 s, polls, retries) are multiplied by the scale."
    )
    text = "\n".join(out)
    print(text)
    with open(os.path.join(WORK, "publish-results.md"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
