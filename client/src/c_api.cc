// The C ABI: thin wrappers over shmpool::Client that turn absl::Status into error codes.
#include <cstring>
#include <string>

#include "shmpool/client.h"
#include "shmpool/shmpool.h"

#include "src/c_api_internal.h"

namespace {

thread_local std::string last_error;

int ToCode(const absl::Status& s) {
  if (!s.ok()) last_error = std::string(s.message());
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return SHMPOOL_OK;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return SHMPOOL_E_INVALID;
    case absl::StatusCode::kNotFound:
      return SHMPOOL_E_NOT_FOUND;
    case absl::StatusCode::kAlreadyExists:
      return SHMPOOL_E_EXISTS;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return SHMPOOL_E_PERMISSION;
    case absl::StatusCode::kResourceExhausted:
      return SHMPOOL_E_EXHAUSTED;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return SHMPOOL_E_UNAVAILABLE;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kDataLoss:
      return SHMPOOL_E_CORRUPT;
    default:
      return SHMPOOL_E_INTERNAL;
  }
}

}  // namespace

using shmpool::internal::ClientOf;

int shmpool::internal::StatusToCode(const absl::Status& s) { return ToCode(s); }

extern "C" {

int shmpool_attach(const char* endpoint, const char* arena, shmpool_client** out) {
  if (arena == nullptr || out == nullptr) {
    last_error = "shmpool_attach: arena and out must not be NULL";
    return SHMPOOL_E_INVALID;
  }
  absl::StatusOr<std::unique_ptr<shmpool::Client>> c =
      shmpool::Client::Attach(endpoint ? endpoint : "", arena);
  if (!c.ok()) return ToCode(c.status());
  *out = shmpool::internal::HandleOf(c->release());
  return SHMPOOL_OK;
}

const char* shmpool_last_error(void) { return last_error.c_str(); }

int shmpool_attach_segment(const char* path, shmpool_client** out) {
  if (path == nullptr || out == nullptr) return SHMPOOL_E_INVALID;
  absl::StatusOr<std::unique_ptr<shmpool::Client>> c = shmpool::Client::AttachSegment(path);
  if (!c.ok()) return ToCode(c.status());
  *out = shmpool::internal::HandleOf(c->release());
  return SHMPOOL_OK;
}

void shmpool_detach(shmpool_client* c) { delete ClientOf(c); }

void* shmpool_malloc(shmpool_client* c, size_t size) { return ClientOf(c)->Allocate(size); }

void* shmpool_calloc(shmpool_client* c, size_t n, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) return nullptr;
  void* p = ClientOf(c)->Allocate(bytes);
  if (p) std::memset(p, 0, bytes);
  return p;
}

void shmpool_free(shmpool_client* c, void* p) { ClientOf(c)->Free(p); }

size_t shmpool_usable_size(shmpool_client* c, const void* p) { return ClientOf(c)->UsableSize(p); }

shmpool_ref shmpool_ref_of(shmpool_client* c, const void* p) { return ClientOf(c)->RefOf(p); }

void* shmpool_ptr_of(shmpool_client* c, shmpool_ref r) { return ClientOf(c)->PtrOf(r); }

uint64_t shmpool_generation(shmpool_client* c) { return ClientOf(c)->Generation(); }

uint64_t shmpool_stale_frees(const shmpool_client* c) { return ClientOf(c)->StaleFrees(); }

int shmpool_release_retired(shmpool_client* c) { return ClientOf(c)->ReleaseRetired(); }

int64_t shmpool_purge(shmpool_client* c) {
  absl::StatusOr<uint64_t> r = ClientOf(c)->Purge();
  return r.ok() ? static_cast<int64_t>(*r) : ToCode(r.status());
}

const char* shmpool_strerror(int code) {
  switch (code) {
    case SHMPOOL_OK:
      return "success";
    case SHMPOOL_E_INVALID:
      return "invalid argument";
    case SHMPOOL_E_NOT_FOUND:
      return "no such arena or segment";
    case SHMPOOL_E_EXISTS:
      return "already exists";
    case SHMPOOL_E_PERMISSION:
      return "permission denied";
    case SHMPOOL_E_EXHAUSTED:
      return "out of memory, quota or process slots";
    case SHMPOOL_E_UNAVAILABLE:
      return "the shmpool daemon cannot be reached";
    case SHMPOOL_E_CORRUPT:
      return "the segment failed validation";
    case SHMPOOL_E_INTERNAL:
      return "internal error";
    default:
      return "unknown shmpool error";
  }
}

}  // extern "C"
