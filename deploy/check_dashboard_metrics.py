#!/usr/bin/env python3
"""Checks that every metric the Grafana dashboard queries is one shmpoold exports.

Usage: check_dashboard_metrics.py DASHBOARD.json EXPORTED
EXPORTED is the daemon's /metrics output (Prometheus text format: the names of its
'# TYPE' lines and samples), or server/rpc/metrics_text.cc when no daemon output is at hand
(the names of its metric families, '{"shmpool_...", "gauge"|"counter"').
Exits 1 and lists the unknown names; prints how many queries and names it checked.
"""
import json
import re
import sys

KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "offset", "bool", "inf", "nan"}


def queries(node):
    """Every PromQL string of the dashboard: panel targets and variable queries."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                yield value
            elif key == "query" and isinstance(value, str) and "(" in value:
                yield value
            else:
                yield from queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from queries(item)


def metric_names(expr):
    """Metric names in a PromQL expression: identifiers that are not functions,
    keywords, label names (in {...} or by/without/on/ignoring (...)) or strings."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)           # string literals
    e = re.sub(r"\{[^}]*\}", "", e)                         # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                        # range selectors
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\$\w+", " ", e)                            # Grafana variables
    e = re.sub(r"label_values\(([^,)]*)(?:,[^)]*)?\)", r"\1", e)  # Grafana: (metric, label)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        if word.lower() in KEYWORDS:
            continue
        if re.match(r"\s*\(", e[m.end():]):                 # a function call
            continue
        names.add(word)
    return names


def exported(path):
    text = open(path, encoding="utf-8").read()
    if path.endswith(".cc"):
        return set(re.findall(r'\{"([a-z_:][a-z0-9_:]*)",\s*"(?:gauge|counter)"', text))
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return names


def main():
    dashboard = json.load(open(sys.argv[1], encoding="utf-8"))
    known = exported(sys.argv[2])
    if not known:
        sys.exit(f"no metric names found in {sys.argv[2]}")
    exprs = list(queries(dashboard))
    used = set().union(*(metric_names(e) for e in exprs)) if exprs else set()
    if not used:
        sys.exit("the dashboard queries no metric")
    unknown = sorted(used - known)
    for name in unknown:
        print(f"dashboard queries {name}, which shmpoold does not export", file=sys.stderr)
    print(f"{len(exprs)} queries, {len(used)} metric names, {len(known)} exported "
          f"({sys.argv[2]}): {'FAIL' if unknown else 'ok'}")
    sys.exit(1 if unknown else 0)


if __name__ == "__main__":
    main()
