# report.awk: turns the RESULT lines of repeated runs into the benchmark table.
# Input lines: "RESULT <workload> <alloc> <ns per op>". run.sh runs every allocator once per
# round, so the i-th result of each (workload, allocator) comes from round i.
# Output: per workload, the median ns/op of each allocator with its min..max; the ratio to
# mimalloc (workloads a-c) or the throughput relative to the limit (workload d), each the
# median of the per-round ratios (two allocators of one round ran seconds apart, so the
# ratio cancels most of the machine's drifting load); and the targets, marked PASS
# or MISS on those paired ratios. It reports; it never fails on a timing.

function sort_median(v, n,    i, j, t) {
  for (i = 2; i <= n; i++) {  # insertion sort: a handful of samples
    t = v[i]
    for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]
    v[j + 1] = t
  }
  return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}

function median(key,    n, i, v, m) {
  n = count[key]
  for (i = 1; i <= n; i++) v[i] = samples[key, i]
  m = sort_median(v, n)
  lo[key] = v[1]; hi[key] = v[n]
  return m
}

# Median over rounds of samples(w, a) / samples(w, ref).
function paired(w, a, ref,    n, i, v) {
  n = count[w, a] < count[w, ref] ? count[w, a] : count[w, ref]
  for (i = 1; i <= n; i++) v[i] = samples[w SUBSEP a, i] / samples[w SUBSEP ref, i]
  return sort_median(v, n)
}

function range(a, b) { return b < 100 ? sprintf("%.1f..%.1f", a, b) : sprintf("%.0f..%.0f", a, b) }

function has(w, a) { return ((w SUBSEP a) in count) }

function row(label, w, allocs, n,    i, line) {
  line = sprintf("%-28s", label)
  for (i = 1; i <= n; i++)
    line = line (has(w, allocs[i]) ? sprintf("%11.1f", med[w, allocs[i]]) : sprintf("%11s", "-"))
  print line
  line = sprintf("%-28s", "  min..max")
  for (i = 1; i <= n; i++)
    line = line sprintf("%11s", has(w, allocs[i]) ? range(lo[w, allocs[i]], hi[w, allocs[i]]) : "")
  print line
}

# Cost ratio to ref ("0.53x": 0.53 times ref's ns/op), or with `throughput` set, throughput
# as a percentage of ref's.
function ratio_row(label, w, allocs, n, ref, throughput,    i, line, r) {
  line = sprintf("%-28s", label)
  for (i = 1; i <= n; i++) {
    if (!has(w, allocs[i]) || !has(w, ref)) { line = line sprintf("%11s", "-"); continue }
    r = paired(w, allocs[i], ref)
    line = line sprintf("%11s", throughput ? sprintf("%.0f%%", 100 / r) : sprintf("%.2fx", r))
  }
  print line
}

function header(allocs, n,    i, line) {
  line = sprintf("%-28s", "")
  for (i = 1; i <= n; i++) line = line sprintf("%11s", allocs[i])
  print line
}

function verdict(ok) { return ok ? "PASS" : "MISS" }

$1 == "RESULT" {
  key = $2 SUBSEP $3
  samples[key, ++count[key]] = $4
  if (count[key] > reps) reps = count[key]
}

END {
  for (key in count) med[key] = median(key)
  nl = split("glibc jemalloc tcmalloc mimalloc shmpool boost_msm", local, " ")
  nx = split("limit shmpool boost_cna boost_msm", xproc, " ")

  printf "Workloads (a)-(c), one process: median ns per op over %d interleaved rounds\n", reps
  header(local, nl)
  row("(a) 64 B malloc+free pair", "a", local, nl)
  ratio_row("  ns ratio to mimalloc", "a", local, nl, "mimalloc", 0)
  row("(b) 1000 x 64 B, then free", "b", local, nl)
  ratio_row("  ns ratio to mimalloc", "b", local, nl, "mimalloc", 0)
  row("(c) churn 10k live 16..1024", "c", local, nl)
  ratio_row("  ns ratio to mimalloc", "c", local, nl, "mimalloc", 0)

  printf "\nWorkload (d), two processes (A allocates, B frees): median ns per buffer\n"
  header(xproc, nx)
  row("(d) 256 B buffers", "d256", xproc, nx)
  ratio_row("  throughput vs limit", "d256", xproc, nx, "limit", 1)
  row("(d) 2 KiB buffers", "d2048", xproc, nx)
  ratio_row("  throughput vs limit", "d2048", xproc, nx, "limit", 1)

  printf "\nTargets (median of per-round ratios)\n"
  if (has("a", "shmpool")) {
    best = ""; bestr = 0
    for (i = 1; i <= 4; i++) {
      if (!has("a", local[i])) continue
      r = paired("a", "shmpool", local[i])
      if (best == "" || r > bestr) { best = local[i]; bestr = r }
    }
    if (best != "")
      printf "  (a) shmpool / fastest process-local (%s) time: %.2fx (target <= 1): %s\n", best, \
             bestr, verdict(bestr <= 1)
  }
  if (has("c", "shmpool") && has("c", "mimalloc")) {
    r = paired("c", "shmpool", "mimalloc")
    printf "  (c) shmpool / mimalloc time: %.2fx (target <= 1): %s\n", r, verdict(r <= 1)
  }
  split("d256 d2048", ds, " ")
  for (i = 1; i <= 2; i++) {
    w = ds[i]
    if (has(w, "shmpool") && has(w, "limit")) {
      r = 1 / paired(w, "shmpool", "limit")
      printf "  (%s) shmpool throughput / limit: %.0f%% (target >= 80%%): %s\n", w, 100 * r, \
             verdict(r >= 0.8)
    }
    if (has(w, "shmpool") && has(w, "boost_cna")) {
      r = paired(w, "boost_cna", "shmpool")
      printf "  (%s) shmpool throughput / boost_cna: %.2fx (target >= 2x): %s\n", w, r, \
             verdict(r >= 2)
    }
  }
}
