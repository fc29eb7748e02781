#!/usr/bin/env python3
"""Writes deploy/grafana/shmpool-dashboard.json (stdout): the Grafana dashboard of shmpoold.

Usage: make_dashboard.py [SCHEMA]   (default build/debug/proto/stats_schema.json)
SCHEMA is what the build writes from the (stat) declarations of proto/shmpool/v1/stats.proto:
every metric with its kind, unit and help. Each panel takes its metrics' units and help from
it (a name it lacks is an error), and the collapsed row "Every arena metric" has one panel
per arena metric it declares, so a counter declared there is charted without an edit here.

Edit the panels here, then:
  deploy/grafana/make_dashboard.py build/debug/proto/stats_schema.json > deploy/grafana/shmpool-dashboard.json
deploy/check.sh fails when the checked-in JSON differs from this output, and when a query
names a metric the daemon does not export (its real /metrics)."""
import json
import re
import sys

schema_path = sys.argv[1] if len(sys.argv) > 1 else "build/debug/proto/stats_schema.json"
SCHEMA = {}
for s in json.load(open(schema_path, encoding="utf-8"))["stats"]:
    if s["metric"]:
        SCHEMA.setdefault(s["metric"], s)  # fields of one family: the first declares it

ds = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'instance=~"$instance",arena=~"$arena"'
BY = "sum by (instance, arena)"
WHO = "{{instance}} {{arena}}"
# Grafana units: a level in bytes, seconds or a ratio; a counter's rate per second.
GAUGE_UNIT = {"bytes": "bytes", "seconds": "s", "ratio": "none", "count": "short",
              "timestamp": "dateTimeFromNow"}
RATE_UNIT = {"bytes": "Bps", "seconds": "percentunit", "count": "ops"}
panels = []
y = 0


def level(name):
    return f"{BY} ({name}{{{SEL}}})"


def rate(name):
    return f"{BY} (rate({name}{{{SEL}}}[$__rate_interval]))"


def ts(title, targets, unit, x, w=12, h=8, desc="", into=None):
    """A time series panel; its description is `desc` and the help of every metric it names
    (KeyError for a metric the schema does not declare)."""
    names = sorted({n for e, _ in targets for n in re.findall(r"\bshmpool_[a-z_]+", e)})
    helps = [f"{n}: {SCHEMA[n]['help']}" for n in names]
    p = {"type": "timeseries", "title": title, "description": " ".join([desc] + helps).strip(),
         "datasource": ds, "gridPos": {"x": x, "y": y, "w": w, "h": h},
         "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
         "options": {"legend": {"displayMode": "table", "placement": "bottom",
                                "calcs": ["lastNotNull", "max"]},
                     "tooltip": {"mode": "multi"}},
         "targets": [{"datasource": ds, "expr": e, "legendFormat": l, "refId": chr(65 + i)}
                     for i, (e, l) in enumerate(targets)]}
    (panels if into is None else into).append(p)


def row(title, collapsed=False):
    global y
    r = {"type": "row", "title": title, "collapsed": collapsed,
         "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}
    panels.append(r)
    y += 1
    return r["panels"]


row("Memory")
ts("Allocated, active, resident", [
    (level("shmpool_arena_allocated_bytes"), f"{WHO} allocated"),
    (level("shmpool_arena_active_bytes"), f"{WHO} active"),
    (level("shmpool_arena_resident_bytes"), f"{WHO} resident")], "bytes", 0)
ts("Quota: committed of quota", [
    (f"{level('shmpool_arena_committed_bytes')} / ({level('shmpool_arena_quota_bytes')} > 0)",
     f"{WHO} committed of quota"),
    (f"{level('shmpool_arena_active_bytes')} / ({level('shmpool_arena_quota_bytes')} > 0)",
     f"{WHO} active of quota")], "percentunit", 12,
   desc="The quota limits committed bytes (pages of slabs, large runs and pools), not allocated "
        "bytes: an allocation is refused when its slab or run would take committed past the "
        "quota. Refusals are in the next panel.")
y += 8
ts("Capacity used", [
    (f"{level('shmpool_arena_committed_bytes')} / {level('shmpool_arena_capacity_bytes')}",
     f"{WHO} committed of capacity")], "percentunit", 0)
ts("Quota refusals and failed allocations per second", [
    (rate("shmpool_arena_quota_refusals_total"), f"{WHO} quota refusals"),
    (rate("shmpool_arena_failed_allocations_total"), f"{WHO} failed allocations")], "ops", 12)
y += 8
ts("Free memory: caches, rings, slabs, retained", [
    (level("shmpool_arena_cached_bytes"), f"{WHO} thread caches"),
    (level("shmpool_arena_in_ring_bytes"), f"{WHO} transfer rings"),
    (level("shmpool_arena_free_in_slabs_bytes"), f"{WHO} free in slabs"),
    (level("shmpool_arena_dirty_bytes"), f"{WHO} free runs, backed"),
    (level("shmpool_arena_retained_bytes"), f"{WHO} retained (purged)")], "bytes", 0)
ts("Fragmentation", [
    (f"shmpool_arena_external_fragmentation_ratio{{{SEL}}}", f"{WHO} external"),
    (f"shmpool_arena_internal_fragmentation_ratio{{{SEL}}}", f"{WHO} internal")],
   "percentunit", 12, desc="No sample where a ratio is undefined (nothing allocated).")
y += 8
ts("Resident bytes per allocated byte", [
    (f"shmpool_arena_rss_ratio{{{SEL}}}", f"{WHO} resident / allocated")], "none", 0,
   desc="A plain ratio (1 is no overhead), not a percentage.")
ts("Reclaims and sessions", [
    (rate("shmpool_arena_reclaimed_processes_total"), f"{WHO} dead processes reclaimed/s"),
    (rate("shmpool_arena_sessions_opened_total"), f"{WHO} sessions opened/s")], "ops", 12)
y += 8
row("Traffic")
ts("Allocations and frees per second", [
    (rate("shmpool_arena_allocations_total"), f"{WHO} malloc/s"),
    (rate("shmpool_arena_frees_total"), f"{WHO} free/s"),
    (rate("shmpool_arena_large_allocations_total"), f"{WHO} large malloc/s")], "ops", 0)
ts("Bad frees per second", [
    (rate("shmpool_arena_invalid_frees_total"), f"{WHO} invalid frees"),
    (rate("shmpool_arena_double_frees_total"), f"{WHO} double frees")], "ops", 12,
   desc="Refused and counted; nonzero means an application bug.")
y += 8
ts("Purge: bytes released", [
    (rate("shmpool_arena_purged_bytes_total"), f"{WHO} released")], "Bps", 0, w=8)
ts("Purge: share of time purging", [
    (rate("shmpool_arena_purge_seconds_total"), f"{WHO} purging")], "percentunit", 8, w=8)
ts("Purges per second", [
    (f'sum by (instance, arena, reason) (rate(shmpool_arena_purges_total{{{SEL}}}[$__rate_interval]))',
     f"{WHO} {{{{reason}}}}")], "ops", 16, w=8)
y += 8
row("Clients")
ts("Attached processes, sessions and thread caches", [
    (level("shmpool_arena_attached_processes"), f"{WHO} processes"),
    (level("shmpool_arena_sessions"), f"{WHO} sessions"),
    (level("shmpool_arena_thread_caches"), f"{WHO} thread caches")], "short", 0)
ts("Cached bytes per client (top 10)", [
    (f"topk(10, shmpool_client_cached_bytes{{{SEL}}})", "{{instance}} {{arena}} {{client}}")],
   "bytes", 12, desc="Per-client series exist only with [metrics] per_client = true.")
y += 8
row("Size classes")
ts("Allocated bytes by size class (top 10)", [
    (f"topk(10, shmpool_class_allocated_bytes{{{SEL}}})", "{{instance}} {{arena}} {{size}} B")],
   "bytes", 0)
ts("External fragmentation by size class (top 10)", [
    (f"topk(10, shmpool_class_external_fragmentation_ratio{{{SEL}}})",
     "{{instance}} {{arena}} {{size}} B")], "percentunit", 12)
y += 8
every = row("Every arena metric", collapsed=True)
x = 0
for name, s in SCHEMA.items():
    if s["message"] != "ArenaStats":
        continue
    if s["kind"] == "counter":
        ts(name, [(rate(name), WHO)], RATE_UNIT[s["unit"]], x, w=8, h=6, into=every)
    elif s["unit"] == "ratio":
        ts(name, [(f"{name}{{{SEL}}}", WHO)], "none", x, w=8, h=6, into=every)
    else:
        ts(name, [(level(name), WHO)], GAUGE_UNIT[s["unit"]], x, w=8, h=6, into=every)
    x = (x + 8) % 24
    if x == 0:
        y += 6
dash = {
    "title": "shmpool", "uid": "shmpool-overview", "tags": ["shmpool"],
    "description": "shmpoold arenas per node: memory, quota, fragmentation, traffic, purge, "
                   "clients (metrics declared in proto/shmpool/v1/stats.proto).",
    "editable": True, "schemaVersion": 38, "version": 1, "refresh": "30s",
    "time": {"from": "now-1h", "to": "now"},
    "templating": {"list": [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
        {"name": "instance", "type": "query", "label": "Node", "datasource": ds,
         "query": {"query": "label_values(shmpool_arena_capacity_bytes, instance)",
                   "refId": "instance"},
         "definition": "label_values(shmpool_arena_capacity_bytes, instance)",
         "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2,
         "current": {"text": "All", "value": "$__all"}},
        {"name": "arena", "type": "query", "label": "Arena", "datasource": ds,
         "query": {"query": 'label_values(shmpool_arena_capacity_bytes{instance=~"$instance"}, arena)',
                   "refId": "arena"},
         "definition": 'label_values(shmpool_arena_capacity_bytes{instance=~"$instance"}, arena)',
         "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2,
         "current": {"text": "All", "value": "$__all"}}]},
    "panels": panels}
n = 0
for p in panels:
    for q in [p] + p.get("panels", []):
        n += 1
        q["id"] = n
print(json.dumps(dash, indent=2))
