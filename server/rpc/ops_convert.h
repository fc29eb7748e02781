// Conversions between the API's messages (package shmpool.v1) and the core's requests and
// results (server/core/requests.h): FromProto(request, &core_request) and
// ToProto(core_result, &response), one overload per pair, found by Call (call.h).
#pragma once

#include <vector>

#include "server/core/requests.h"
#include "shmpool/v1/arena.pb.h"
#include "shmpool/v1/pool.pb.h"
#include "shmpool/v1/session.pb.h"
#include "shmpool/v1/stats.pb.h"

namespace shmpool::server {

// A request whose `name` names an arena, or all of them.
template <class Req>
requires requires(const Req& r) { r.name(); }
void FromProto(const Req& req, ArenaRef* out) { out->name = req.name(); }
void FromProto(const v1::ListPoolsRequest& req, ArenaRef* out);
void FromProto(const v1::ListArenasRequest& req, AllArenas* out);
void FromProto(const v1::CreateArenaRequest& req, ArenaSpec* out);
void FromProto(const v1::UpdateArenaRequest& req, QuotaUpdate* out);
void FromProto(const v1::CreatePoolRequest& req, PoolCreate* out);
void FromProto(const v1::DeletePoolRequest& req, PoolRef* out);
void FromProto(const v1::AttachArenaRequest& req, AttachRequest* out);
void FromProto(const v1::GetSegmentMapRequest& req, MapRequest* out);

// Responses that carry nothing.
template <class Resp>
void ToProto(const Done&, Resp*) {}
void ToProto(const ArenaView& v, v1::Arena* out);
void ToProto(const std::vector<ArenaView>& v, v1::ListArenasResponse* out);
void ToProto(const PurgeReport& r, v1::PurgeArenaResponse* out);
void ToProto(const PoolView& v, v1::Pool* out);
void ToProto(const std::vector<PoolView>& v, v1::ListPoolsResponse* out);
void ToProto(const Attached& a, v1::AttachArenaResponse* out);
void ToProto(const SegmentMapView& v, v1::SegmentMap* out);

}  // namespace shmpool::server
