#!/usr/bin/env python3
"""Redraws docs/stories.jpg, the README's picture: one feed row of five shipped
templates (the first; for the quote card the third, a long quote that wraps)
rendered by target/release/storyforge (today 2026-11-29, so the countdown
reads 13 days), each scaled to 360x640 and set side by side.

Needs Pillow: `make bench` puts it in benches/.venv, so run
    benches/.venv/bin/python scripts/readme-picture.py
after `cargo build --release --locked`.
"""
import json
import os
import subprocess
import tempfile

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "storyforge")
STORIES = [
    ("daily-update.yaml", "daily-update.csv", 1),
    ("event-countdown.yaml", "event-countdown.yaml", 1),
    ("product-card.yaml", "product-card.json", 1),
    ("quote-card.yaml", "quote-card.csv", 3),
    ("photo-story.yaml", "photo-story.yaml", 1),
]
W, H = 360, 640


def story(template, feed, row, out):
    cmd = [BIN, "render", os.path.join(ROOT, "templates", template),
           "--data", os.path.join(ROOT, "fixtures", "feeds", feed),
           "--out", out, "--today", "2026-11-29", "--json", "-q"]
    report = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    stories = report["stories"] if isinstance(report, dict) else report
    return next(s["output"] for s in stories if s.get("output") and (s.get("row") or 1) == row)


def main():
    sheet = Image.new("RGB", (W * len(STORIES), H))
    with tempfile.TemporaryDirectory() as out:
        for i, (template, feed, row) in enumerate(STORIES):
            image = Image.open(story(template, feed, row, out)).convert("RGB")
            sheet.paste(image.resize((W, H), Image.LANCZOS), (i * W, 0))
    sheet.save(os.path.join(ROOT, "docs", "stories.jpg"), quality=88, optimize=True)


if __name__ == "__main__":
    main()
