# report.awk: turns the RESULT lines of repeated runs into the benchmark table.
# Input lines: "RESULT <workload> <alloc> <ns per op>", any number of repetitions.
# Output: per workload, the median ns/op of each allocator with its min..max, the ratio
# to mimalloc (workloads a-c) or the throughput relative to the limit (workload d), and
# the issue's targets marked PASS or MISS. Timing medians only; nothing is asserted.

function median(key,    n, i, j, t, v) {
  n = count[key]
  for (i = 1; i <= n; i++) v[i] = samples[key, i]
  for (i = 2; i <= n; i++) {  # insertion sort: a handful of samples
    t = v[i]
    for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]
    v[j + 1] = t
  }
  lo[key] = v[1]; hi[key] = v[n]
  return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
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

function ratio_row(label, w, allocs, n, ref, invert,    i, line, r) {
  line = sprintf("%-28s", label)
  for (i = 1; i <= n; i++) {
    if (!has(w, allocs[i]) || !has(w, ref)) { line = line sprintf("%11s", "-"); continue }
    r = invert ? med[w, ref] / med[w, allocs[i]] : med[w, allocs[i]] / med[w, ref]
    line = line sprintf("%11s", invert ? sprintf("%.0f%%", 100 * r) : sprintf("%.2fx", r))
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

  printf "Workloads (a)-(c), one process: median ns per op over %d interleaved runs\n", reps
  header(local, nl)
  row("(a) 64 B malloc+free pair", "a", local, nl)
  ratio_row("  ratio to mimalloc", "a", local, nl, "mimalloc", 0)
  row("(b) 1000 x 64 B, then free", "b", local, nl)
  ratio_row("  ratio to mimalloc", "b", local, nl, "mimalloc", 0)
  row("(c) churn 10k live 16..1024", "c", local, nl)
  ratio_row("  ratio to mimalloc", "c", local, nl, "mimalloc", 0)

  printf "\nWorkload (d), two processes (A allocates, B frees): median ns per buffer\n"
  header(xproc, nx)
  row("(d) 256 B buffers", "d256", xproc, nx)
  ratio_row("  throughput vs limit", "d256", xproc, nx, "limit", 1)
  row("(d) 2 KiB buffers", "d2048", xproc, nx)
  ratio_row("  throughput vs limit", "d2048", xproc, nx, "limit", 1)

  printf "\nTargets (timing medians above)\n"
  best = ""; for (i = 1; i <= 4; i++) if (has("a", local[i]) && (best == "" || med["a", local[i]] < med["a", best])) best = local[i]
  if (best != "" && has("a", "shmpool"))
    printf "  (a) shmpool %.1f ns vs best process-local (%s) %.1f ns: %s\n", med["a", "shmpool"], \
           best, med["a", best], verdict(med["a", "shmpool"] <= med["a", best])
  if (has("c", "shmpool") && has("c", "mimalloc"))
    printf "  (c) shmpool %.1f ns vs mimalloc %.1f ns: %s\n", med["c", "shmpool"], \
           med["c", "mimalloc"], verdict(med["c", "shmpool"] <= med["c", "mimalloc"])
  split("d256 d2048", ds, " ")
  for (i = 1; i <= 2; i++) {
    w = ds[i]
    if (has(w, "shmpool") && has(w, "limit"))
      printf "  (%s) shmpool throughput %.0f%% of the limit (target >= 80%%): %s\n", w, \
             100 * med[w, "limit"] / med[w, "shmpool"], \
             verdict(med[w, "limit"] / med[w, "shmpool"] >= 0.8)
    if (has(w, "shmpool") && has(w, "boost_cna"))
      printf "  (%s) shmpool %.2fx the throughput of boost_cna (target >= 2x): %s\n", w, \
             med[w, "boost_cna"] / med[w, "shmpool"], \
             verdict(med[w, "boost_cna"] / med[w, "shmpool"] >= 2)
  }
}
