#!/usr/bin/env python3
"""Writes the benchmark feed: N rows of title, body, footer (deterministic)."""
import csv
import random
import sys

WORDS = ("coffee roast morning market winter spring latte harbour fresh bread "
         "season local bakery menu special weekend tasting guest music garden "
         "opening evening friends recipe golden cinnamon citrus ember velvet "
         "quiet bright window table street corner little grand early late").split()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    out = sys.argv[2] if len(sys.argv) > 2 else "/dev/stdout"
    rnd = random.Random(42)
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["title", "body", "footer"])
        for i in range(n):
            title = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 9))).capitalize()
            body = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(25, 60))).capitalize() + "."
            w.writerow([title, body, f"@storyforge · story {i + 1}"])


if __name__ == "__main__":
    main()
