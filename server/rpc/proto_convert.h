// Conversions from the daemon's records to the API's messages (package shmpool.v1).
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "server/core/arena_registry.h"
#include "server/core/session_registry.h"
#include "shm/stats.h"
#include "shmpool/v1/arena.pb.h"
#include "shmpool/v1/session.pb.h"
#include "shmpool/v1/stats.pb.h"

namespace shmpool::server {

// "arenas/{arena_id}/pools/{pool_id}".
std::string PoolName(absl::string_view arena_id, absl::string_view pool_id);
void ToProto(absl::Time t, google::protobuf::Timestamp* out);
void ToProto(absl::Duration d, google::protobuf::Duration* out);
void ToProto(const QuarantineReason& q, v1::Quarantine* out);
void ToProto(const ArenaRecord& arena, uint32_t live_clients, v1::Arena* out);
void ToProto(const SessionInfo& session, v1::Session* out);
void ToProto(const ArenaRecord& arena, v1::SegmentInfo* out);
// Arena-wide and per-class numbers; the caller adds name, quota and clients.
void ToProto(const shm::ArenaStats& stats, v1::ArenaStats* out);

}  // namespace shmpool::server
