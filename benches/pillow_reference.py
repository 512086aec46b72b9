#!/usr/bin/env python3
"""The benchmark's reference Story drawn with Pillow (libjpeg-turbo inside),
the way a hand-written Python script does it: fonts and the scaled logo are
loaded once, then per row a new canvas, the vertical gradient, the logo, the
wrapped and centred text, and a quality-90 JPEG (4:2:0) written to disk.

usage: pillow_reference.py FEED.csv OUT_DIR [--cache-background]

--cache-background draws the gradient and logo once and copies them for each
row (the best case for Pillow, matching storyforge's own reuse of the static
part of a template).
"""
import csv
import os
import sys

from PIL import Image, ImageDraw, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
FONTS = os.path.join(HERE, "..", "fonts")
W, H = 1080, 1920
TOP, BOTTOM = (0x12, 0x35, 0x5B), (0xD7, 0x26, 0x38)


def gradient():
    # Vectorised vertical gradient: a 1-pixel-wide column per channel, stretched.
    cols = []
    for c in range(3):
        col = Image.new("L", (1, H))
        col.putdata([round(TOP[c] + (BOTTOM[c] - TOP[c]) * (y + 0.5) / H) for y in range(H)])
        cols.append(col.resize((W, H), Image.NEAREST))
    return Image.merge("RGB", cols)


def wrap(draw, text, font, width, max_lines):
    lines, cur = [], ""
    for word in text.split():
        cand = word if not cur else cur + " " + word
        if draw.textlength(cand, font=font) <= width:
            cur = cand
            continue
        if cur:
            lines.append(cur)
        cur = word
    lines.append(cur)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and draw.textlength(last + "…", font=font) > width:
            last = last[:-1].rstrip()
        lines[-1] = last + "…"
    return lines


def block(draw, text, font, size, line_height, box, max_lines, fill=(255, 255, 255)):
    x, y, w, h = box
    adv = size * line_height
    for i, line in enumerate(wrap(draw, text, font, w, max_lines)):
        lw = draw.textlength(line, font=font)
        draw.text((x + (w - lw) / 2, y + i * adv), line, font=font, fill=fill)


def main():
    feed, out = sys.argv[1], sys.argv[2]
    cache = "--cache-background" in sys.argv
    os.makedirs(out, exist_ok=True)
    title_f = ImageFont.truetype(os.path.join(FONTS, "Lato-Bold.ttf"), 88)
    body_f = ImageFont.truetype(os.path.join(FONTS, "Lato-Regular.ttf"), 48)
    foot_f = ImageFont.truetype(os.path.join(FONTS, "Lato-Regular.ttf"), 36)
    logo = Image.open(os.path.join(HERE, "reference", "logo.png")).convert("RGBA")
    logo = logo.resize((240, 240), Image.LANCZOS)

    def background():
        img = gradient()
        img.paste(logo, (420, 260), logo)
        return img

    base = background() if cache else None
    with open(feed, newline="") as f:
        for i, row in enumerate(csv.DictReader(f), 1):
            img = base.copy() if cache else background()
            d = ImageDraw.Draw(img)
            block(d, row["title"], title_f, 88, 1.15, (80, 540, 920, 320), 3)
            block(d, row["body"], body_f, 48, 1.3, (80, 900, 920, 640), 10)
            block(d, row["footer"], foot_f, 36, 1.2, (80, 1580, 920, 60), 1)
            img.save(os.path.join(out, f"ref-{i}.jpg"), "JPEG", quality=90, subsampling="4:2:0")


if __name__ == "__main__":
    main()
