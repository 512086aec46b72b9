#!/usr/bin/env python3
"""Builds fonts/NotoSansCJKsc-Subset.otf from Debian's fonts-noto-cjk.

Keeps the characters of GB 2312 (6,763 Simplified Chinese hanzi), JIS X 0208
(6,355 Japanese kanji, kana), KS X 1001 (2,350 Hangul syllables, Hanja) and
Big5 level 1 (5,401 common Traditional hanzi), plus CJK punctuation, kana,
Hangul jamo and full-width forms. Run with fonttools installed:
    python3 -m venv /tmp/ft && /tmp/ft/bin/pip install fonttools
    /tmp/ft/bin/python scripts/subset-cjk.py
"""
import sys
from fontTools import subset
from fontTools.ttLib import TTCollection

SRC = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
OUT = sys.argv[1] if len(sys.argv) > 1 else "fonts/NotoSansCJKsc-Subset.otf"

def charset(codec, lead, trail):
    out = set()
    for a in lead:
        for b in trail:
            try:
                out.update(bytes([a, b]).decode(codec))
            except UnicodeDecodeError:
                pass
    return out

chars = set()
chars |= charset("gb2312", range(0xA1, 0xF8), range(0xA1, 0xFF))
chars |= charset("euc_jp", range(0xA1, 0xF5), range(0xA1, 0xFF))
chars |= charset("euc_kr", range(0xA1, 0xFE), range(0xA1, 0xFF))
# Big5 level 1: lead bytes A4-C6.
chars |= charset("big5", range(0xA4, 0xC7), list(range(0x40, 0x7F)) + list(range(0xA1, 0xFF)))
ranges = [(0x3000, 0x30FF), (0x3130, 0x318F), (0x31F0, 0x31FF), (0xFF00, 0xFFEF), (0x1100, 0x11FF), (0x20, 0x7E)]
for lo, hi in ranges:
    chars.update(chr(c) for c in range(lo, hi + 1))
unicodes = sorted(ord(c) for c in chars if ord(c) > 0x1F)

font = TTCollection(SRC).fonts[2]  # Noto Sans CJK SC
opts = subset.Options()
opts.layout_features = ["*"]
opts.name_IDs = ["*"]
opts.notdef_outline = True
opts.hinting = False
opts.desubroutinize = False
sub = subset.Subsetter(opts)
sub.populate(unicodes=unicodes)
sub.subset(font)
font.save(OUT)
print(f"{OUT}: {len(unicodes)} code points")
