#!/usr/bin/env python3
"""storyforge's video stage against the ffmpeg command-line tool, side by side.

Needs: target/release/storyforge and Debian's `ffmpeg`. Run through
`make bench-video` (benches/video_compare.sh). Prints a Markdown table and
writes benches/work/video-results.md. Every ffmpeg command it runs is printed
with --show-commands.

1. Speed, one clip: the same 15 s 1080p clip, the same filter chain and x264
   settings (taken from `storyforge transcode --plan`), storyforge against
   one ffmpeg process.
2. Speed, batch: six such clips; storyforge (files in parallel within the
   thread budget) against two ffmpeg processes side by side, three clips each.
3. Quality: a hard-to-compress 30 s clip at the 8,000,000-byte budget;
   storyforge's file against ffmpeg's own 2-pass encode at the same size,
   both scored by SSIM against the source through the same scaling.
4. Memory: storyforge's peak resident memory transcoding a 4K clip.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work", "video")
BIN = os.path.join(ROOT, "target", "release", "storyforge")
SHOW = "--show-commands" in sys.argv


def sh(cmd, **kw):
    if SHOW:
        print("$ " + " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


def ff(*args):
    sh(["ffmpeg", "-hide_banner", "-v", "error", "-y", *args])


def make_inputs():
    os.makedirs(WORK, exist_ok=True)
    clip = os.path.join(WORK, "clip15.mp4")
    if not os.path.exists(clip):
        ff("-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=30:d=15", "-f", "lavfi", "-i", "sine=f=440:d=15",
           "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-c:a", "aac", "-shortest", clip)
    hard = os.path.join(WORK, "hard30.mp4")
    if not os.path.exists(hard):
        ff("-f", "lavfi", "-i", "mandelbrot=s=1920x1080:r=30", "-f", "lavfi", "-i", "sine=f=300:d=30",
           "-vf", "noise=alls=24:allf=t+u", "-t", "30", "-c:v", "libx264", "-preset", "veryfast", "-crf", "16",
           "-c:a", "aac", "-shortest", hard)
    uhd = os.path.join(WORK, "uhd10.mp4")
    if not os.path.exists(uhd):
        ff("-f", "lavfi", "-i", "testsrc2=s=3840x2160:r=30:d=10", "-f", "lavfi", "-i", "sine=d=10",
           "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", "-c:a", "aac", "-shortest", uhd)
    return clip, hard, uhd


def plan(path, fit="crop", max_bytes=8_000_000, jobs=1):
    out = sh([BIN, "transcode", path, "--plan", "--fit", fit, "--max-bytes", str(max_bytes), "--jobs", str(jobs)],
             capture_output=True, text=True).stdout
    return json.loads(out)


def ffmpeg_cmd(src, dst, p, same_threads=True):
    """The ffmpeg command doing what storyforge's plan says, one part."""
    part = p["plan"]["parts"][0]
    d = part["out_duration"]
    fps = p["plan"]["fps"]
    keyint = int(2 * fps[0] / fps[1])
    graph = (f"[0:v]{p['plan']['video_filter']},trim=end={d:.6f}[v];"
             f"[0:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,"
             f"apad=whole_dur={d:.6f},atrim=end={d:.6f}[a]")
    return ["ffmpeg", "-hide_banner", "-v", "error", "-y", "-i", src, "-filter_complex", graph,
            "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", p["preset"], "-profile:v", "high",
            "-crf", p["crf"], "-g", str(keyint), "-x264-params", p["x264_params"][0],
            *(["-threads:v", str(p["x264_threads"])] if same_threads else []),
            "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", dst]


def timed(fn, repeat=2):
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best


def ssim(encoded, source, chain):
    graph = f"[1:v]{chain}[ref];[0:v][ref]ssim"
    err = subprocess.run(["ffmpeg", "-hide_banner", "-i", encoded, "-i", source, "-filter_complex", graph,
                          "-f", "null", "-"], capture_output=True, text=True).stderr
    m = re.search(r"All:([0-9.]+)", err)
    return float(m.group(1)) if m else float("nan")


def peak_rss_kib(cmd):
    wrapper = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
               "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    return int(sh([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True).stdout)


def main():
    clip, hard, uhd = make_inputs()
    out = os.path.join(WORK, "out")
    rows = []

    # 1. One clip, same settings.
    p = plan(clip)
    def ours_one():
        shutil.rmtree(out, ignore_errors=True)
        sh([BIN, "transcode", clip, "--fit", "crop", "--out", out, "-q"])
    def theirs_one():
        os.makedirs(out, exist_ok=True)
        sh(ffmpeg_cmd(clip, os.path.join(out, "cli.mp4"), p))
    t_ours, t_cli = timed(ours_one), timed(theirs_one)
    rows.append(("one 15 s 1080p clip", f"{t_ours:.2f} s", f"{t_cli:.2f} s (ffmpeg)", f"{t_ours / t_cli:.3f}×"))

    # 2. Six clips (storyforge runs two at a time, one x264 thread each; each
    # ffmpeg process gets the same x264 settings and its own default threads).
    batch = []
    for i in range(6):
        dst = os.path.join(WORK, f"batch{i}.mp4")
        if not os.path.exists(dst):
            shutil.copy(clip, dst)
        batch.append(dst)
    def ours_batch():
        shutil.rmtree(out, ignore_errors=True)
        sh([BIN, "transcode", *batch, "--fit", "crop", "--out", out, "-q"])
    def theirs_batch():
        os.makedirs(out, exist_ok=True)
        procs = []
        for half in (batch[:3], batch[3:]):
            script = " && ".join(" ".join(f"'{a}'" for a in ffmpeg_cmd(b, os.path.join(out, os.path.basename(b)), p, False))
                                 for b in half)
            procs.append(subprocess.Popen(["bash", "-c", script]))
        for pr in procs:
            if pr.wait() != 0:
                raise SystemExit("ffmpeg failed")
    t_ours_b, t_cli_b = timed(ours_batch, 1), timed(theirs_batch, 1)
    rows.append(("six 15 s 1080p clips", f"{t_ours_b:.2f} s", f"{t_cli_b:.2f} s (2 ffmpeg side by side)",
                 f"{t_ours_b / t_cli_b:.3f}×"))

    # 3. Quality at the budget on a hard clip.
    shutil.rmtree(out, ignore_errors=True)
    sh([BIN, "transcode", hard, "--fit", "crop", "--out", out, "-q"])
    ours = os.path.join(out, "hard30.mp4")
    size = os.path.getsize(ours)
    hp = plan(hard)
    chain = hp["plan"]["video_filter"]
    duration = hp["plan"]["parts"][0]["out_duration"]
    # ffmpeg's 2-pass at the same total size: video bitrate from our file's size.
    vbps = int((size * 8 / duration) - 128_000 - 8_000)
    two = os.path.join(out, "ffmpeg-2pass.mp4")
    log = os.path.join(WORK, "2pass")
    base = ["-i", hard, "-vf", chain, "-c:v", "libx264", "-preset", hp["preset"], "-profile:v", "high",
            "-b:v", str(vbps), "-g", "60", "-passlogfile", log]
    ff(*base, "-pass", "1", "-an", "-f", "mp4", "/dev/null")
    ff(*base, "-pass", "2", "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2", "-movflags", "+faststart", two)
    s_ours, s_two = ssim(ours, hard, chain), ssim(two, hard, chain)
    rows.append(("hard 30 s clip, 8 MB budget: SSIM", f"{s_ours:.4f} ({size:,} B)",
                 f"{s_two:.4f} ({os.path.getsize(two):,} B, ffmpeg 2-pass)", f"{s_ours - s_two:+.4f}"))

    # 4. Memory on 4K.
    shutil.rmtree(out, ignore_errors=True)
    rss = peak_rss_kib([BIN, "transcode", uhd, "--out", out, "-q"])
    rows.append(("peak memory, 4K 30 fps 10 s clip", f"{rss / 1024:.0f} MiB", "", ""))

    lines = ["| measure | storyforge | reference | ratio / difference |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    report = "\n".join(lines)
    print(report)
    with open(os.path.join(HERE, "work", "video-results.md"), "w") as f:
        f.write(report + "\n")


if __name__ == "__main__":
    main()
