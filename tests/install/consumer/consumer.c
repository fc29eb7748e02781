/* consumer.c: the C ABI from an installed shmpool. Attaches to ENDPOINT's arena
 * "default", allocates, writes and checks blocks (through pointers and through
 * shmpool_ref), frees them, purges and detaches. Exit 0 on success, 1 with a message. */
#include <shmpool/shmpool.h>
#include <stdio.h>
#include <string.h>

#define N 256

static int fail(const char* what) {
  fprintf(stderr, "consumer_c: %s (%s)\n", what, shmpool_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: consumer_c ENDPOINT\n");
    return 2;
  }
  shmpool_client* c = NULL;
  int rc = shmpool_attach(argv[1], "default", &c);
  if (rc != 0) return fail(shmpool_strerror(rc));
  shmpool_ref refs[N];
  for (int i = 0; i < N; i++) {
    size_t size = 16 + (size_t)i * 40; /* small classes up to about 10 KiB */
    unsigned char* p = shmpool_malloc(c, size);
    if (p == NULL) return fail("shmpool_malloc returned NULL");
    if (shmpool_usable_size(c, p) < size) return fail("usable size below the request");
    memset(p, i & 0xff, size);
    refs[i] = shmpool_ref_of(c, p);
    if (refs[i] == 0 || shmpool_ptr_of(c, refs[i]) != p) return fail("ref round trip");
  }
  for (int i = 0; i < N; i++) {
    unsigned char* p = shmpool_ptr_of(c, refs[i]);
    size_t size = 16 + (size_t)i * 40;
    for (size_t k = 0; k < size; k++)
      if (p[k] != (unsigned char)(i & 0xff)) return fail("block content changed");
    shmpool_free(c, p);
  }
  int64_t released = shmpool_purge(c);
  if (released < 0) return fail(shmpool_strerror((int)released));
  shmpool_detach(c);
  printf("consumer_c: %d blocks allocated, checked and freed; purge released %lld bytes\n", N,
         (long long)released);
  return 0;
}
