/* packet_demo: two processes share packet buffers through a shmpool arena, in plain C.
 *
 *   packet_demo produce N   attaches, allocates N packet buffers (64 to 1500 bytes), fills
 *                           each, and writes "REF LEN" lines on stdout: the buffers' handles
 *   packet_demo consume     attaches, reads those lines on stdin, checks each buffer and
 *                           frees it (memory allocated by the other process)
 *
 *   packet_demo produce 10000 | packet_demo consume
 *
 * The daemon's endpoint comes from $SHMPOOL_ENDPOINT (else the default socket), the arena
 * from $SHMPOOL_ARENA (else "default"). */
#include <shmpool/shmpool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct packet {
  uint32_t seq;
  uint32_t len; /* bytes of payload after the header */
  uint8_t payload[];
};

static shmpool_client* attach_or_die(const char* who) {
  const char* arena = getenv("SHMPOOL_ARENA");
  shmpool_client* c = NULL;
  int rc = shmpool_attach(NULL, arena ? arena : "default", &c);
  if (rc != 0) {
    fprintf(stderr, "%s: attach failed: %s (%s)\n", who, shmpool_strerror(rc),
            shmpool_last_error());
    exit(1);
  }
  return c;
}

static int produce(long n) {
  shmpool_client* c = attach_or_die("producer");
  uint64_t bytes = 0;
  uint32_t rng = 12345;
  for (long i = 0; i < n; ++i) {
    rng = rng * 1103515245u + 12345u;
    const uint32_t len = 64 + (rng >> 8) % (1500 - 64 - sizeof(struct packet));
    struct packet* p = shmpool_malloc(c, sizeof(struct packet) + len);
    if (p == NULL) {
      fprintf(stderr, "producer: arena exhausted after %ld packets\n", i);
      break;
    }
    p->seq = (uint32_t)i;
    p->len = len;
    memset(p->payload, (int)(i & 0xff), len);
    bytes += len;
    printf("%llu %u\n", (unsigned long long)shmpool_ref_of(c, p), len);
  }
  fflush(stdout);
  fprintf(stderr, "producer: sent %ld packets, %llu payload bytes\n", n, (unsigned long long)bytes);
  shmpool_detach(c);
  return 0;
}

static int consume(void) {
  shmpool_client* c = attach_or_die("consumer");
  unsigned long long ref;
  unsigned len;
  long n = 0, bad = 0;
  while (scanf("%llu %u", &ref, &len) == 2) {
    struct packet* p = shmpool_ptr_of(c, (shmpool_ref)ref);
    if (p == NULL || p->len != len || (len && p->payload[len - 1] != (uint8_t)(p->seq & 0xff)))
      ++bad;
    shmpool_free(c, p);
    ++n;
  }
  fprintf(stderr, "consumer: freed %ld packets, %ld corrupt\n", n, bad);
  shmpool_detach(c);
  return bad ? 1 : 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "produce") == 0) return produce(atol(argv[2]));
  if (argc == 2 && strcmp(argv[1], "consume") == 0) return consume();
  fprintf(stderr, "usage: packet_demo produce N | packet_demo consume\n");
  return 2;
}
