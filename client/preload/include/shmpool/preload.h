/* shmpool/preload.h: what libshmpool_malloc.so offers a program that knows it runs under it,
 * beyond the malloc family: refs of its heap blocks, which another process attached to the
 * same arena (under the preload, or through the C ABI) turns back into a pointer. Look the
 * functions up with dlsym(RTLD_DEFAULT, ...) to run without the preload too, or link
 * libshmpool_malloc.so. */
#ifndef SHMPOOL_PRELOAD_H_
#define SHMPOOL_PRELOAD_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ref of a block malloc gave from the arena (as shmpool_ref_of), or 0: a glibc block, or
 * a process that is not attached (no arena, a child after fork). */
uint64_t shmpool_preload_ref_of(const void* p);
/* The block of a ref of this arena (as shmpool_ptr_of), or NULL. The receiver frees it with
 * free() when it owns it: any attached process may free any block. */
void* shmpool_preload_ptr_of(uint64_t ref);

#ifdef __cplusplus
}
#endif

#endif /* SHMPOOL_PRELOAD_H_ */
