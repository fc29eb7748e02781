/* packet_pool_demo: a packet-buffer producer and consumer sharing a fixed-size object pool
 * (like DPDK mbufs), in plain C.
 *
 *   shmpoolctl pool create default pkt --object-size 2048 --count 1024 --headroom 128
 *   packet_pool_demo produce 100000 | packet_pool_demo consume
 *
 *   produce N   gets N buffers from the pool (waiting while all are out), writes a header in
 *               the headroom and a payload after it, and writes each buffer's ref on stdout
 *   consume     reads refs on stdin, checks each buffer and puts it back into the pool: a
 *               buffer got in one process is put back in another
 *
 * The daemon's endpoint comes from $SHMPOOL_ENDPOINT, the arena from $SHMPOOL_ARENA (else
 * "default"), the pool from $SHMPOOL_POOL (else "pkt"). */
#include <sched.h>
#include <shmpool/shmpool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct header { /* in the headroom */
  uint64_t seq;
  uint32_t len;
  uint32_t sum; /* of the payload bytes */
};

static const char* env_or(const char* name, const char* fallback) {
  const char* v = getenv(name);
  return v ? v : fallback;
}

static void open_or_die(const char* who, shmpool_client** c, shmpool_pool** p) {
  int rc = shmpool_attach(NULL, env_or("SHMPOOL_ARENA", "default"), c);
  if (rc == 0) rc = shmpool_pool_open(*c, env_or("SHMPOOL_POOL", "pkt"), p);
  if (rc != 0) {
    fprintf(stderr, "%s: %s (%s)\n", who, shmpool_strerror(rc), shmpool_last_error());
    exit(1);
  }
  if (shmpool_pool_headroom(*p) < sizeof(struct header)) {
    fprintf(stderr, "%s: the pool needs a headroom of at least %zu bytes\n", who,
            sizeof(struct header));
    exit(1);
  }
}

static int produce(long n) {
  shmpool_client* c;
  shmpool_pool* pool;
  open_or_die("producer", &c, &pool);
  const size_t room = shmpool_pool_object_size(pool), head = shmpool_pool_headroom(pool);
  uint32_t rng = 12345;
  for (long i = 0; i < n; ++i) {
    uint8_t* buf;
    while ((buf = shmpool_pool_get(pool)) == NULL) sched_yield(); /* all out: wait */
    struct header* h = (struct header*)buf;
    rng = rng * 1103515245u + 12345u;
    h->seq = (uint64_t)i;
    h->len = 64 + (rng >> 8) % (uint32_t)(room - 64);
    h->sum = 0;
    for (uint32_t k = 0; k < h->len; ++k) {
      buf[head + k] = (uint8_t)(i + k);
      h->sum += (uint8_t)(i + k);
    }
    printf("%llu\n", (unsigned long long)shmpool_ref_of(c, buf));
  }
  fflush(stdout);
  shmpool_pool_close(pool);
  shmpool_detach(c);
  fprintf(stderr, "producer: %ld buffers sent\n", n);
  return 0;
}

static int consume(void) {
  shmpool_client* c;
  shmpool_pool* pool;
  open_or_die("consumer", &c, &pool);
  const size_t head = shmpool_pool_headroom(pool);
  unsigned long long ref;
  long n = 0, bad = 0;
  while (scanf("%llu", &ref) == 1) {
    uint8_t* buf = shmpool_ptr_of(c, ref);
    const struct header* h = (const struct header*)buf;
    uint32_t sum = 0;
    for (uint32_t k = 0; k < h->len; ++k) sum += buf[head + k];
    if (h->seq != (uint64_t)n || sum != h->sum) ++bad;
    if (shmpool_pool_put(pool, buf) != 0) ++bad;
    ++n;
  }
  shmpool_pool_close(pool);
  shmpool_detach(c);
  fprintf(stderr, "consumer: %ld buffers received, %ld bad\n", n, bad);
  return bad == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "produce") == 0) return produce(atol(argv[2]));
  if (argc == 2 && strcmp(argv[1], "consume") == 0) return consume();
  fprintf(stderr, "usage: packet_pool_demo produce N | packet_pool_demo consume\n");
  return 2;
}
