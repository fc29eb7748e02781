#!/usr/bin/env python3
"""Checks what the Grafana dashboard's panels show, against the metrics' declarations.

Usage: check_dashboard_panels.py DASHBOARD.json SCHEMA.json
SCHEMA is the build's proto/stats_schema.json (kind and unit of every metric). Fails when:
  - there is no instance variable, or a query aggregates without keeping `instance` (one
    node's series would be summed with another's);
  - a panel charts a ratio metric whose declared unit is not a share (rss_ratio: resident per
    allocated byte) with a percent unit, or the rate of a seconds counter on a bytes axis;
  - a quota panel divides allocated bytes by the quota (the quota limits committed bytes).
Prints how many panels it checked."""
import json
import re
import sys

SHARES = {"shmpool_arena_external_fragmentation_ratio", "shmpool_arena_internal_fragmentation_ratio",
          "shmpool_class_external_fragmentation_ratio"}


def panels(node):
    for p in node.get("panels", []):
        yield p
        yield from panels(p)


def main():
    dash = json.load(open(sys.argv[1], encoding="utf-8"))
    schema = {s["metric"]: s for s in json.load(open(sys.argv[2], encoding="utf-8"))["stats"]
              if s["metric"]}
    errors = []
    names = [v["name"] for v in dash.get("templating", {}).get("list", [])]
    if "instance" not in names:
        errors.append("no instance variable: every node's series are merged")
    n = 0
    for p in panels(dash):
        if p.get("type") != "timeseries":
            continue
        n += 1
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
        for t in p.get("targets", []):
            e = t["expr"]
            for by in re.findall(r"\b(?:sum|max|min|avg) by \(([^)]*)\)", e):
                if "instance" not in [x.strip() for x in by.split(",")]:
                    errors.append(f"{p['title']}: aggregates by ({by}), not by instance: {e}")
            for m in set(re.findall(r"\bshmpool_[a-z_]+", e)):
                s = schema.get(m)
                if s is None:
                    continue
                if s["unit"] == "ratio" and m not in SHARES and unit == "percentunit":
                    errors.append(f"{p['title']}: {m} is a plain ratio drawn as a percentage")
                if s["unit"] == "seconds" and unit in ("Bps", "bytes", "decbytes"):
                    errors.append(f"{p['title']}: {m} (seconds) on a {unit} axis")
            if "quota" in p["title"].lower() and re.search(
                    r"shmpool_arena_allocated_bytes[^/]*\)\s*/[^/]*shmpool_arena_quota_bytes", e):
                errors.append(f"{p['title']}: allocated / quota, but the quota limits committed bytes")
    for e in errors:
        print(e, file=sys.stderr)
    print(f"{n} panels checked: {'FAIL' if errors else 'ok'}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
