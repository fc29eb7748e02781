#!/usr/bin/env python3
"""Writes deploy/grafana/shmpool-dashboard.json (stdout): the Grafana dashboard of shmpoold.

Edit the panels here, then: deploy/grafana/make_dashboard.py > deploy/grafana/shmpool-dashboard.json
deploy/check.sh fails when the checked-in JSON differs from this output, and when a query
names a metric the daemon does not export (server/rpc/metrics_text.cc, its real /metrics)."""
import json
ds = {"type": "prometheus", "uid": "${datasource}"}
A = 'arena=~"$arena"'
panels = []
y = 0
def ts(title, targets, unit, x, w=12, h=8, desc=""):
    global y
    p = {"type": "timeseries", "title": title, "description": desc, "datasource": ds,
         "gridPos": {"x": x, "y": y, "w": w, "h": h},
         "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
         "options": {"legend": {"displayMode": "table", "placement": "bottom",
                                "calcs": ["lastNotNull", "max"]},
                     "tooltip": {"mode": "multi"}},
         "targets": [{"datasource": ds, "expr": e, "legendFormat": l, "refId": chr(65 + i)}
                     for i, (e, l) in enumerate(targets)]}
    panels.append(p)
def row(title):
    global y
    panels.append({"type": "row", "title": title, "collapsed": False,
                   "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})
    y += 1
row("Memory")
ts("Allocated, active, resident", [
    (f'sum by (arena) (shmpool_arena_allocated_bytes{{{A}}})', "{{arena}} allocated"),
    (f'sum by (arena) (shmpool_arena_active_bytes{{{A}}})', "{{arena}} active"),
    (f'sum by (arena) (shmpool_arena_resident_bytes{{{A}}})', "{{arena}} resident")],
   "bytes", 0, desc="allocated: blocks handed out and not freed; active: slabs and runs in use; resident: pages physically backed (st_blocks of the segment).")
ts("Capacity and quota used", [
    (f'sum by (arena) (shmpool_arena_allocated_bytes{{{A}}}) / sum by (arena) (shmpool_arena_capacity_bytes{{{A}}})', "{{arena}} of capacity"),
    (f'sum by (arena) (shmpool_arena_allocated_bytes{{{A}}}) / (sum by (arena) (shmpool_arena_quota_bytes{{{A}}}) > 0)', "{{arena}} of quota")],
   "percentunit", 12)
y += 8
ts("Free memory: caches, rings, slabs, retained", [
    (f'sum by (arena) (shmpool_arena_cached_bytes{{{A}}})', "{{arena}} thread caches"),
    (f'sum by (arena) (shmpool_arena_in_ring_bytes{{{A}}})', "{{arena}} transfer rings"),
    (f'sum by (arena) (shmpool_arena_free_in_slabs_bytes{{{A}}})', "{{arena}} free in slabs"),
    (f'sum by (arena) (shmpool_arena_retained_bytes{{{A}}})', "{{arena}} retained (purged)")],
   "bytes", 0)
ts("Fragmentation", [
    (f'shmpool_arena_external_fragmentation_ratio{{{A}}}', "{{arena}} external (1 - allocated/active)"),
    (f'shmpool_arena_internal_fragmentation_ratio{{{A}}}', "{{arena}} internal (1 - requested/handed out)"),
    (f'shmpool_arena_rss_ratio{{{A}}}', "{{arena}} resident / allocated")],
   "percentunit", 12)
y += 8
row("Traffic")
ts("Allocations and frees per second", [
    (f'sum by (arena) (rate(shmpool_arena_allocations_total{{{A}}}[$__rate_interval]))', "{{arena}} malloc/s"),
    (f'sum by (arena) (rate(shmpool_arena_frees_total{{{A}}}[$__rate_interval]))', "{{arena}} free/s"),
    (f'sum by (arena) (rate(shmpool_arena_large_allocations_total{{{A}}}[$__rate_interval]))', "{{arena}} large malloc/s")],
   "ops", 0)
ts("Errors per second", [
    (f'sum by (arena) (rate(shmpool_arena_failed_allocations_total{{{A}}}[$__rate_interval]))', "{{arena}} failed allocations"),
    (f'sum by (arena) (rate(shmpool_arena_invalid_frees_total{{{A}}}[$__rate_interval]))', "{{arena}} invalid frees"),
    (f'sum by (arena) (rate(shmpool_arena_double_frees_total{{{A}}}[$__rate_interval]))', "{{arena}} double frees")],
   "ops", 12, desc="Failed allocations: exhausted or over quota. Invalid and double frees are refused and counted; nonzero means an application bug.")
y += 8
ts("Purge", [
    (f'sum by (arena) (rate(shmpool_arena_purged_bytes_total{{{A}}}[$__rate_interval]))', "{{arena}} bytes released/s"),
    (f'sum by (arena) (rate(shmpool_arena_purge_seconds_total{{{A}}}[$__rate_interval]))', "{{arena}} purge time (s/s)")],
   "Bps", 0)
ts("Purges per second", [
    (f'sum by (arena) (rate(shmpool_arena_purges_total{{{A}}}[$__rate_interval]))', "{{arena}} purges/s")],
   "ops", 12)
y += 8
row("Clients")
ts("Attached processes and thread caches", [
    (f'sum by (arena) (shmpool_arena_attached_processes{{{A}}})', "{{arena}} processes"),
    (f'sum by (arena) (shmpool_arena_thread_caches{{{A}}})', "{{arena}} thread caches")],
   "short", 0)
ts("Cached bytes per client (top 10)", [
    (f'topk(10, shmpool_client_cached_bytes{{{A}}})', "{{arena}} {{client}} pid {{pid}}")],
   "bytes", 12)
y += 8
row("Size classes")
ts("Allocated bytes by size class (top 10)", [
    (f'topk(10, shmpool_class_allocated_bytes{{{A}}})', "{{arena}} {{size}} B")],
   "bytes", 0)
ts("External fragmentation by size class (top 10)", [
    (f'topk(10, shmpool_class_external_fragmentation_ratio{{{A}}} and shmpool_class_active_bytes{{{A}}} > 0)', "{{arena}} {{size}} B")],
   "percentunit", 12)
y += 8
dash = {
    "title": "shmpool", "uid": "shmpool-overview", "tags": ["shmpool"],
    "description": "shmpoold arenas: memory, fragmentation, traffic, purge, clients (metrics of server/rpc/metrics_text.cc).",
    "editable": True, "schemaVersion": 38, "version": 1, "refresh": "30s",
    "time": {"from": "now-1h", "to": "now"},
    "templating": {"list": [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
        {"name": "arena", "type": "query", "label": "Arena", "datasource": ds,
         "query": {"query": "label_values(shmpool_arena_capacity_bytes, arena)", "refId": "arena"},
         "definition": "label_values(shmpool_arena_capacity_bytes, arena)",
         "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2,
         "current": {"text": "All", "value": "$__all"}}]},
    "panels": panels}
for i, p in enumerate(panels):
    p["id"] = i + 1
print(json.dumps(dash, indent=2))
