/* abi_signatures.c: the C ABI's signatures and constants (the ABI half that symbol names
 * do not show), pinned at compile time. Compiling this file against <shmpool/shmpool.h>
 * fails when a function of client/libshmpool.symbols changes its type or an error code its
 * value; target shmpool_abi_signatures (tests/install/CMakeLists.txt). A new function adds
 * a line here and its name to client/libshmpool.symbols. */
#include <shmpool/shmpool.h>

#define SHMPOOL_ABI_SIGNATURE(f, ret, params) \
  _Static_assert(__builtin_types_compatible_p(__typeof__(f), ret params), #f " changed type")

_Static_assert(sizeof(shmpool_ref) == 8, "shmpool_ref is 64 bits");
_Static_assert(SHMPOOL_OK == 0, "SHMPOOL_OK");
_Static_assert(SHMPOOL_E_INVALID == -1, "SHMPOOL_E_INVALID");
_Static_assert(SHMPOOL_E_NOT_FOUND == -2, "SHMPOOL_E_NOT_FOUND");
_Static_assert(SHMPOOL_E_EXISTS == -3, "SHMPOOL_E_EXISTS");
_Static_assert(SHMPOOL_E_PERMISSION == -4, "SHMPOOL_E_PERMISSION");
_Static_assert(SHMPOOL_E_EXHAUSTED == -5, "SHMPOOL_E_EXHAUSTED");
_Static_assert(SHMPOOL_E_UNAVAILABLE == -6, "SHMPOOL_E_UNAVAILABLE");
_Static_assert(SHMPOOL_E_CORRUPT == -7, "SHMPOOL_E_CORRUPT");
_Static_assert(SHMPOOL_E_INTERNAL == -8, "SHMPOOL_E_INTERNAL");

SHMPOOL_ABI_SIGNATURE(shmpool_attach, int, (const char*, const char*, shmpool_client**));
SHMPOOL_ABI_SIGNATURE(shmpool_attach_segment, int, (const char*, shmpool_client**));
SHMPOOL_ABI_SIGNATURE(shmpool_detach, void, (shmpool_client*));
SHMPOOL_ABI_SIGNATURE(shmpool_malloc, void*, (shmpool_client*, size_t));
SHMPOOL_ABI_SIGNATURE(shmpool_calloc, void*, (shmpool_client*, size_t, size_t));
SHMPOOL_ABI_SIGNATURE(shmpool_free, void, (shmpool_client*, void*));
SHMPOOL_ABI_SIGNATURE(shmpool_usable_size, size_t, (shmpool_client*, const void*));
SHMPOOL_ABI_SIGNATURE(shmpool_ref_of, shmpool_ref, (shmpool_client*, const void*));
SHMPOOL_ABI_SIGNATURE(shmpool_ptr_of, void*, (shmpool_client*, shmpool_ref));
SHMPOOL_ABI_SIGNATURE(shmpool_generation, uint64_t, (shmpool_client*));
SHMPOOL_ABI_SIGNATURE(shmpool_stale_frees, uint64_t, (const shmpool_client*));
SHMPOOL_ABI_SIGNATURE(shmpool_release_retired, int, (shmpool_client*));
SHMPOOL_ABI_SIGNATURE(shmpool_purge, int64_t, (shmpool_client*));
SHMPOOL_ABI_SIGNATURE(shmpool_pool_open, int, (shmpool_client*, const char*, shmpool_pool**));
SHMPOOL_ABI_SIGNATURE(shmpool_pool_close, void, (shmpool_pool*));
SHMPOOL_ABI_SIGNATURE(shmpool_pool_get, void*, (shmpool_pool*));
SHMPOOL_ABI_SIGNATURE(shmpool_pool_put, int, (shmpool_pool*, void*));
SHMPOOL_ABI_SIGNATURE(shmpool_pool_object_size, size_t, (const shmpool_pool*));
SHMPOOL_ABI_SIGNATURE(shmpool_pool_headroom, size_t, (const shmpool_pool*));
SHMPOOL_ABI_SIGNATURE(shmpool_region_create, int, (shmpool_client*, size_t, shmpool_region**));
SHMPOOL_ABI_SIGNATURE(shmpool_region_open, int, (shmpool_client*, shmpool_ref, shmpool_region**));
SHMPOOL_ABI_SIGNATURE(shmpool_region_alloc, void*, (shmpool_region*, size_t));
SHMPOOL_ABI_SIGNATURE(shmpool_region_ref, shmpool_ref, (const shmpool_region*));
SHMPOOL_ABI_SIGNATURE(shmpool_region_destroy, void, (shmpool_region*));
SHMPOOL_ABI_SIGNATURE(shmpool_region_close, void, (shmpool_region*));
SHMPOOL_ABI_SIGNATURE(shmpool_strerror, const char*, (int));
SHMPOOL_ABI_SIGNATURE(shmpool_last_error, const char*, (void));
