/* shmpool: the C ABI of the client library (library `shmpool_client`).
 *
 * Attach to an arena, then allocate and free inside its shared-memory segment with no
 * RPC, syscall or lock on the fast path. Any thread of any attached process may free any
 * block of the arena; shmpool_ref values are offsets, valid in every process.
 * The names and signatures below are a stable contract. */
#ifndef SHMPOOL_SHMPOOL_H_
#define SHMPOOL_SHMPOOL_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmpool_client shmpool_client; /* one per process per arena */
typedef uint64_t shmpool_ref;                 /* position-independent handle; 0 is null */

/* Error codes: 0 is success, every error is negative. */
enum {
  SHMPOOL_OK = 0,
  SHMPOOL_E_INVALID = -1,     /* bad argument */
  SHMPOOL_E_NOT_FOUND = -2,   /* no such arena or segment */
  SHMPOOL_E_EXISTS = -3,      /* already exists */
  SHMPOOL_E_PERMISSION = -4,  /* not allowed for this caller */
  SHMPOOL_E_EXHAUSTED = -5,   /* out of memory, quota or process slots */
  SHMPOOL_E_UNAVAILABLE = -6, /* the daemon cannot be reached */
  SHMPOOL_E_CORRUPT = -7,     /* the segment failed validation */
  SHMPOOL_E_INTERNAL = -8
};

/* Attaches through the daemon at `endpoint` ("unix:PATH" or "HOST:PORT"; NULL:
 * $SHMPOOL_ENDPOINT, else the default socket) to `arena` (its id, e.g. "default").
 * Returns 0 and sets *out, or a negative error code; shmpool_last_error() says why.
 * A daemon that is not answering (restarting) is waited for up to
 * $SHMPOOL_ATTACH_TIMEOUT_MS milliseconds (default 5000; 0 fails at once), then
 * SHMPOOL_E_UNAVAILABLE names the endpoint and the wait.
 * The client keeps a session with the daemon on a background thread until detach; a
 * build without gRPC returns SHMPOOL_E_UNAVAILABLE.
 * fork(): attach in each process that allocates. The library reaches the daemon through
 * gRPC, which does not work in a forked child, so in the child of a process that attached
 * through the daemon (even one that has detached since) this returns SHMPOOL_E_UNAVAILABLE
 * at once, never waiting, with shmpool_last_error() saying to fork before attaching or to
 * exec in the child; shmpool_attach_segment works there. A child forked before its
 * parent's first attach, or one that execs, attaches as any process does. In the child,
 * a handle of the parent's is refused: shmpool_malloc returns NULL, shmpool_free does nothing
 * (the first refusal is reported on stderr), shmpool_purge returns SHMPOOL_E_UNAVAILABLE,
 * and shmpool_detach releases nothing of the parent's: its session, caches and process
 * record stay the parent's, which keeps allocating as before; the child's exit leaves them
 * alone too. */
int shmpool_attach(const char* endpoint, const char* arena, shmpool_client** out);
/* Attaches directly to a segment file, without a daemon (tests, embedded use). */
int shmpool_attach_segment(const char* path, shmpool_client** out);
/* Detaches: returns every cache of this process. Other threads must be done with c. */
void shmpool_detach(shmpool_client* c);

/* NULL when the arena is exhausted or over quota; never aborts, never faults. */
void* shmpool_malloc(shmpool_client* c, size_t size);
void* shmpool_calloc(shmpool_client* c, size_t n, size_t size);
/* Frees a block of c's arena. NULL does nothing; an invalid or double free is refused,
 * counted and reported (SHMPOOL_ABORT_ON_INVALID_FREE=1 makes it abort instead). */
void shmpool_free(shmpool_client* c, void* p);
/* The usable size of a live block, or 0. */
size_t shmpool_usable_size(shmpool_client* c, const void* p);

/* Resizes a block. Stays in place when the new size has the block's size class (for a large
 * block: when it is large, fits the block's pages and uses more than half of them), else
 * moves: a new block gets the first min(size, old usable size) bytes and p is freed.
 * realloc(c, NULL, n) is malloc(c, n). realloc(c, p, 0) is served like any size: p is
 * resized to a minimum-size block (as malloc(c, 0) gives), which the caller frees; it never
 * frees p and returns NULL. So NULL always means failure, and then p is untouched and still
 * live. A p that shmpool_free would refuse is refused the same way (counted and reported,
 * or abort with SHMPOOL_ABORT_ON_INVALID_FREE=1) and gives NULL. A block of a retired
 * generation (after an arena reset) always moves into the current generation; its free is
 * refused and counted in shmpool_stale_frees, as for shmpool_free. */
void* shmpool_realloc(shmpool_client* c, void* p, size_t size);

/* The largest alignment the aligned allocations serve: the page size. */
#define SHMPOOL_MAX_ALIGNMENT 4096
/* A block of at least `size` bytes whose address is a multiple of `alignment` (a power of
 * two from 1 to SHMPOOL_MAX_ALIGNMENT), in every process that maps the arena. It is an
 * ordinary block: shmpool_free, shmpool_usable_size, shmpool_realloc (which keeps the
 * alignment only while the block stays in place) and shmpool_ref_of take it. NULL with
 * errno EINVAL for another alignment, ENOMEM when the arena is exhausted or over quota. */
void* shmpool_aligned_alloc(shmpool_client* c, size_t alignment, size_t size);
/* As POSIX: 0 and *out set, EINVAL (an alignment that is not a power of two, below
 * sizeof(void*) or above SHMPOOL_MAX_ALIGNMENT, or out NULL) or ENOMEM, *out untouched.
 * These are errno values (positive), not SHMPOOL_E_* codes. */
int shmpool_posix_memalign(shmpool_client* c, void** out, size_t alignment, size_t size);

/* A ref is position-independent: the block's offset in its segment (low 48 bits) and its
 * arena generation (high 16 bits, 0 until the arena's first reset). shmpool_ptr_of of a ref
 * of a retired generation gives that block if c still maps the generation, else NULL:
 * never a block of the new generation. 0 for a pointer in no generation c maps. */
shmpool_ref shmpool_ref_of(shmpool_client* c, const void* p);
void* shmpool_ptr_of(shmpool_client* c, shmpool_ref r);

/* Arena reset (`shmpoolctl arena reset`, everything freed at once) is safe while clients
 * are attached: the arena gets a new, empty segment (its next generation) and the daemon
 * tells every client, which maps it and allocates from it from then on (within
 * milliseconds; a call that raced with the switch may return a block of the generation
 * before). The retired generation stays mapped until detach or shmpool_release_retired,
 * so its blocks stay readable and no pointer faults; freeing one is refused, counted
 * (shmpool_stale_frees, and the arena's stale_frees) and reported on stderr once per
 * generation, never applied to the new generation, and never aborts. Pool and region
 * handles stay on the generation they were opened in: reopen them after a reset (pools are
 * re-created empty; a region ref of a retired generation no longer opens). */
/* The arena generation c allocates from: 0 until the arena's first reset, +1 per reset.
 * Also follows a reset c has not followed yet (attached without the daemon, or while it
 * was away), so polling it is how an application learns that a reset happened. */
uint64_t shmpool_generation(shmpool_client* c);
/* Frees c refused because the block belonged to a retired generation. */
uint64_t shmpool_stale_frees(const shmpool_client* c);
/* Unmaps the retired generations c still maps (what c cached there is returned; the daemon
 * then removes their files) and returns how many. No thread may still use one of their
 * blocks, or be inside a call on c that began before the reset (as for detach). */
int shmpool_release_retired(shmpool_client* c);

/* Returns this thread's cached blocks and purges the arena (through the daemon when
 * attached through one). Bytes released, or a negative error code. */
int64_t shmpool_purge(shmpool_client* c);

/* Object pools (shm/pool.h): fixed-size objects preallocated in the arena (create them
 * with `shmpoolctl pool create`). get/put are lock-free through per-thread caches in the
 * segment; any process of the arena may put an object another process got. Close every
 * pool before detaching its client. */
typedef struct shmpool_pool shmpool_pool;
int shmpool_pool_open(shmpool_client* c, const char* name, shmpool_pool** out);
void shmpool_pool_close(shmpool_pool* pool);
/* An object (headroom bytes first, then object_size bytes), or NULL when none is free. */
void* shmpool_pool_get(shmpool_pool* pool);
/* 0, or SHMPOOL_E_INVALID for a pointer that is not an object of the pool handed out
 * (refused and counted; nothing changes). */
int shmpool_pool_put(shmpool_pool* pool, void* obj);
size_t shmpool_pool_object_size(const shmpool_pool* pool);
size_t shmpool_pool_headroom(const shmpool_pool* pool);

/* Regions (shm/region.h): bump allocation in O(1), everything freed at once. One writer at
 * a time; hand a region to another process with its ref (shmpool_region_ref), which that
 * process opens with shmpool_region_open. */
typedef struct shmpool_region shmpool_region;
int shmpool_region_create(shmpool_client* c, size_t chunk_bytes, shmpool_region** out);
int shmpool_region_open(shmpool_client* c, shmpool_ref ref, shmpool_region** out);
/* 16-aligned memory, or NULL when the arena is exhausted or over quota. */
void* shmpool_region_alloc(shmpool_region* r, size_t size);
shmpool_ref shmpool_region_ref(const shmpool_region* r);
/* Frees every block of the region (in every process) and the handle. */
void shmpool_region_destroy(shmpool_region* r);
/* Frees only this process's handle; the region stays. */
void shmpool_region_close(shmpool_region* r);

const char* shmpool_strerror(int code);
/* The message of this thread's last failed attach or purge ("" if none). */
const char* shmpool_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* SHMPOOL_SHMPOOL_H_ */
