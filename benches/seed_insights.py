#!/usr/bin/env python3
"""Seeds a storyforge ledger with N published Stories with insights, for
timing `storyforge insights report` (docs/benchmarks.md, Insights; docs/insights.md).

    storyforge insights report --config cfg.yaml   # creates the ledger's tables
    python3 benches/seed_insights.py LEDGER.db 100000
    time storyforge insights report --config cfg.yaml --json > /dev/null

Five templates, two variants each, published over 90 days at every hour;
numbers drawn from a fixed seed, so every run seeds the same ledger.
"""
import datetime
import json
import random
import sqlite3
import sys

path, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(24)
db = sqlite3.connect(path)
now = datetime.datetime.now(datetime.timezone.utc)
stories, insights = [], []
for i in range(n):
    at = (now - datetime.timedelta(minutes=rng.randrange(90 * 24 * 60))).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    media = f"18{i:012d}"
    template = f"template-{i % 5}"
    variant = "AB"[(i // 5) % 2]
    views = rng.randrange(50, 5000)
    reach = views * 3 // 4
    exits = views * rng.randrange(10, 30) // 100
    forward = views * rng.randrange(30, 60) // 100
    stories.append(("bench", f"bench:{i}", f"{i:064x}", media, at, template, variant))
    insights.append((media, "bench", at, json.dumps({
        "views": views, "reach": reach, "replies": rng.randrange(5), "shares": rng.randrange(3),
        "navigation": exits + forward,
        "navigation_breakdown": {"tap_exit": exits, "tap_forward": forward},
    })))
db.executemany(
    "INSERT INTO stories (account, identity, generation, content_hash, kind, source, media_id, state,"
    " created_at, updated_at, published_at, template, variant)"
    " VALUES (?1, ?2, 0, ?3, 'image', 'bench', ?4, 'published', ?5, ?5, ?5, ?6, ?7)",
    stories,
)
db.executemany("INSERT INTO insights (media_id, account, collected_at, metrics) VALUES (?, ?, ?, ?)", insights)
db.commit()
print(f"{path}: {n} Stories with insights")
