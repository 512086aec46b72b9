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
5. Video template, side by side: the same 15 s clip as a plain transcode,
   as a video template with three static and two animated (fading) layers,
   and as the ffmpeg command line doing the same overlay (`-filter_complex`
   with overlay and fade over the same layer pictures), same x264 settings.
   `--template-only` runs just this part.
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


def make_clip():
    os.makedirs(WORK, exist_ok=True)
    clip = os.path.join(WORK, "clip15.mp4")
    if not os.path.exists(clip):
        ff("-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=30:d=15", "-f", "lavfi", "-i", "sine=f=440:d=15",
           "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-c:a", "aac", "-shortest", clip)
    return clip


def make_inputs():
    clip = make_clip()
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


TEMPLATE = """
name: bench-video
duration: 15
background:
  video: {{src: {clip}, fit: cover}}
layers:
  - image: {{name: logo, src: {logo}, box: {{x: 90, y: 270, w: 300, h: 120}}}}
  - rect: {{name: band, box: {{x: 0, y: 1230, w: 1080, h: 200}}, color: "#2b2118cc", bleed: true}}
  - text: {{name: title, content: "Cold Brew Tonic", font: {{family: Lato, weight: black}}, size: 84, box: {{x: 90, y: 1270, w: 900, h: 120}}}}
  - rect:
      name: tag
      box: {{x: 640, y: 1470, w: 350, h: 140}}
      color: "#c8553d"
      at: {{from: 1, to: 14}}
      enter: {{effect: fade, duration: 0.5}}
      exit: {{effect: fade, duration: 0.5}}
  - text:
      name: price
      content: "4.50"
      font: {{family: Lato, weight: black}}
      size: 72
      box: {{x: 655, y: 1480, w: 320, h: 120}}
      align: center
      at: {{from: 1, to: 14}}
      enter: {{effect: fade, duration: 0.5}}
      exit: {{effect: fade, duration: 0.5}}
"""


def template_inputs(clip):
    """The template, and the same layers as pictures for the ffmpeg command line."""
    tdir = os.path.join(WORK, "template")
    os.makedirs(tdir, exist_ok=True)
    shutil.copy(clip, os.path.join(tdir, "clip15.mp4"))
    shutil.copy(os.path.join(ROOT, "templates", "assets", "logo.png"), os.path.join(tdir, "logo.png"))
    path = os.path.join(tdir, "bench-video.yaml")
    with open(path, "w") as f:
        f.write(TEMPLATE.format(clip="clip15.mp4", logo="logo.png"))
    font = os.path.join(ROOT, "fonts", "Lato-Black.ttf")
    def text_png(name, text, w, h, size):
        ff("-f", "lavfi", "-i", f"color=c=black@0:s={w}x{h},format=rgba,"
           f"drawtext=fontfile={font}:text='{text}':fontsize={size}:fontcolor=white:x=0:y=0",
           "-frames:v", "1", os.path.join(tdir, name))
    def rect_png(name, colour, w, h):
        ff("-f", "lavfi", "-i", f"color=c={colour}:s={w}x{h},format=rgba", "-frames:v", "1",
           os.path.join(tdir, name))
    rect_png("band.png", "0x2b2118@0.8", 1080, 200)
    text_png("title.png", "Cold Brew Tonic", 900, 120, 84)
    rect_png("tag.png", "0xc8553d", 350, 140)
    text_png("price.png", "4.50", 320, 120, 72)
    return tdir, path


def overlay_cmd(tdir, dst, p):
    """ffmpeg doing the template's work: the plan's chain, three static
    overlays, two overlays fading in at 1 s and out at 13.5 s."""
    d = p["plan"]["parts"][0]["out_duration"]
    fps = p["plan"]["fps"]
    keyint = int(2 * fps[0] / fps[1])
    pic = lambda n: ["-loop", "1", "-framerate", f"{fps[0]}/{fps[1]}", "-i", os.path.join(tdir, n)]
    fade = "format=yuva420p,fade=t=in:st=1:d=0.5:alpha=1,fade=t=out:st=13.5:d=0.5:alpha=1"
    graph = (f"[0:v]{p['plan']['video_filter']}[bg];"
             f"[bg][1:v]overlay=90:270:shortest=1[v1];[v1][2:v]overlay=0:1230:shortest=1[v2];"
             f"[v2][3:v]overlay=90:1270:shortest=1[v3];"
             f"[4:v]{fade}[f4];[v3][f4]overlay=640:1470:shortest=1:enable='between(t,1,14)'[v4];"
             f"[5:v]{fade}[f5];[v4][f5]overlay=655:1480:shortest=1:enable='between(t,1,14)',trim=end={d:.6f}[v];"
             f"[0:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,"
             f"apad=whole_dur={d:.6f},atrim=end={d:.6f}[a]")
    return ["ffmpeg", "-hide_banner", "-v", "error", "-y", "-i", os.path.join(tdir, "clip15.mp4"),
            *pic("logo.png"), *pic("band.png"), *pic("title.png"), *pic("tag.png"), *pic("price.png"),
            "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", p["preset"],
            "-profile:v", "high", "-crf", p["crf"], "-g", str(keyint), "-x264-params", p["x264_params"][0],
            "-threads:v", str(p["x264_threads"]),
            "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", dst]


def template_rows(clip):
    tdir, tpl = template_inputs(clip)
    out = os.path.join(WORK, "out-template")
    p = plan(clip)
    plain = [BIN, "transcode", clip, "--fit", "crop", "--out", out, "-q"]
    ours = [BIN, "render", tpl, "--out", out, "-q", "--jobs", "1"]
    cli = overlay_cmd(tdir, os.path.join(out, "cli-overlay.mp4"), p)
    os.makedirs(out, exist_ok=True)
    if "--print-commands" in sys.argv:
        for name, cmd in (("plain", plain), ("template", ours), ("cli", cli)):
            print(f"{name}: " + " ".join(f"'{a}'" if any(c in a for c in " ;[],()'") else a for a in cmd))
        return []
    t_plain, t_tpl, t_cli = timed(lambda: sh(plain)), timed(lambda: sh(ours)), timed(lambda: sh(cli))
    return [
        ("15 s clip, plain transcode", f"{t_plain:.2f} s", "", ""),
        ("15 s clip as a video template (3 static + 2 fading layers)", f"{t_tpl:.2f} s",
         f"{t_plain:.2f} s (plain transcode)", f"{t_tpl / t_plain:.3f}×"),
        ("the same overlay, ffmpeg -filter_complex overlay + fade", f"{t_tpl:.2f} s", f"{t_cli:.2f} s (ffmpeg)",
         f"{t_tpl / t_cli:.3f}×"),
    ]


def main():
    if "--template-only" in sys.argv or "--print-commands" in sys.argv:
        rows = template_rows(make_clip())
        if rows:
            print("\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows))
        return
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

    # 5. Video template against the plain transcode and the ffmpeg overlay.
    rows += template_rows(clip)

    lines = ["| measure | storyforge | reference | ratio / difference |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    report = "\n".join(lines)
    print(report)
    with open(os.path.join(HERE, "work", "video-results.md"), "w") as f:
        f.write(report + "\n")


if __name__ == "__main__":
    main()
