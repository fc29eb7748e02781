/* fragment_demo: leaves an arena fragmented the way long-running services do, then holds
 * it so an operator can look (shmpoolctl map, doctor) and purge.
 *
 *   fragment_demo LIVE_MIB
 *
 * Attaches, allocates LIVE_MIB MiB of blocks (70% of them 16-128 B, 25% 129-2048 B, 5%
 * 2-64 KiB, every byte written), frees a random 90% of them, allocates a tenth of LIVE_MIB
 * anew, prints "ready" on stdout, and waits for standard input to close; then it checks
 * and frees what it holds and detaches. The daemon's endpoint comes from $SHMPOOL_ENDPOINT
 * (else the default socket), the arena from $SHMPOOL_ARENA (else "default").
 * scripts/readme-images.sh uses it to draw the README's pictures. */
#include <shmpool/shmpool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct block {
  unsigned char* p;
  uint32_t size;
};

static uint64_t rng_state = 42;
static uint64_t next_random(void) { /* xorshift64 */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static uint32_t size_of_next(void) {
  const uint64_t r = next_random() % 100;
  if (r < 70) return 16 + (uint32_t)(next_random() % 113);
  if (r < 95) return 129 + (uint32_t)(next_random() % 1920);
  return 2049 + (uint32_t)(next_random() % 63488);
}

/* Allocates blocks until `bytes` more are live; returns 0, or 1 when the arena is full. */
static int fill(shmpool_client* c, uint64_t bytes, struct block** v, size_t* n, size_t* cap) {
  for (uint64_t done = 0; done < bytes;) {
    const uint32_t size = size_of_next();
    unsigned char* p = shmpool_malloc(c, size);
    if (p == NULL) {
      fprintf(stderr, "fragment_demo: allocation failed: %s\n", shmpool_last_error());
      return 1;
    }
    memset(p, (int)(size & 0xff), size);
    if (*n == *cap) {
      *cap = *cap ? 2 * *cap : 4096;
      *v = realloc(*v, *cap * sizeof(struct block));
      if (*v == NULL) abort();
    }
    (*v)[(*n)++] = (struct block){p, size};
    done += size;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 2 || atoi(argv[1]) <= 0) {
    fprintf(stderr, "usage: fragment_demo LIVE_MIB\n");
    return 2;
  }
  const uint64_t live = (uint64_t)atoi(argv[1]) << 20;
  const char* arena = getenv("SHMPOOL_ARENA");
  shmpool_client* c = NULL;
  int rc = shmpool_attach(NULL, arena ? arena : "default", &c);
  if (rc != 0) {
    fprintf(stderr, "fragment_demo: attach failed: %s (%s)\n", shmpool_strerror(rc),
            shmpool_last_error());
    return 1;
  }
  struct block* v = NULL;
  size_t n = 0, cap = 0;
  if (fill(c, live, &v, &n, &cap) != 0) return 1;
  /* Free a random 90%: shuffle, keep the first tenth. */
  for (size_t i = n; i > 1; --i) {
    const size_t j = (size_t)(next_random() % i);
    const struct block t = v[i - 1];
    v[i - 1] = v[j];
    v[j] = t;
  }
  const size_t keep = n / 10;
  for (size_t i = keep; i < n; ++i) shmpool_free(c, v[i].p);
  n = keep;
  if (fill(c, live / 10, &v, &n, &cap) != 0) return 1;
  printf("ready\n");
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin) != NULL) {
  }
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    for (uint32_t k = 0; k < v[i].size; ++k)
      if (v[i].p[k] != (unsigned char)(v[i].size & 0xff)) {
        ++bad;
        break;
      }
    shmpool_free(c, v[i].p);
  }
  free(v);
  shmpool_detach(c);
  printf("done: %zu blocks checked, %zu bad\n", n, bad);
  return bad == 0 ? 0 : 1;
}
