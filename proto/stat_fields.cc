#include "proto/stat_fields.h"

#include <map>
#include <mutex>

#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace shmpool::api {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

const std::vector<StatField>& StatFields(const Descriptor* message) {
  static std::mutex mu;
  static auto* cache = new std::map<const Descriptor*, std::vector<StatField>>;
  std::lock_guard<std::mutex> lock(mu);
  auto [it, fresh] = cache->try_emplace(message);
  if (fresh) {
    for (int i = 0; i < message->field_count(); ++i) {
      const FieldDescriptor* f = message->field(i);
      if (f->options().HasExtension(v1::stat))
        it->second.push_back({f, &f->options().GetExtension(v1::stat)});
    }
  }
  return it->second;
}

std::optional<double> StatValue(const Message& m, const FieldDescriptor* f) {
  const auto* r = m.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_UINT64:
      return double(r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return double(r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return double(r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_INT32:
      return double(r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      if (f->has_presence() && !r->HasField(m, f)) return std::nullopt;
      return r->GetDouble(m, f);
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub = r->GetMessage(m, f);
      if (sub.GetDescriptor() == google::protobuf::Timestamp::descriptor()) {
        if (!r->HasField(m, f)) return std::nullopt;
        const auto& t = static_cast<const google::protobuf::Timestamp&>(sub);
        return double(t.seconds()) + t.nanos() / 1e9;
      }
      if (sub.GetDescriptor() != google::protobuf::Duration::descriptor()) return std::nullopt;
      const auto& d = static_cast<const google::protobuf::Duration&>(sub);
      return double(d.seconds()) + d.nanos() / 1e9;
    }
    default:
      return std::nullopt;
  }
}

bool SetCounter(Message& m, const std::string& name, uint64_t n) {
  const FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(name);
  if (f == nullptr || f->is_repeated()) return false;
  const auto* r = m.GetReflection();
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_UINT64) {
    r->SetUInt64(&m, f, n);
    return true;
  }
  const int64_t seconds = static_cast<int64_t>(n / 1000000000);
  const int32_t nanos = static_cast<int32_t>(n % 1000000000);
  if (f->message_type() == google::protobuf::Timestamp::descriptor()) {
    if (n == 0) return true;  // never: left unset
    auto* t = static_cast<google::protobuf::Timestamp*>(r->MutableMessage(&m, f));
    t->set_seconds(seconds);
    t->set_nanos(nanos);
    return true;
  }
  if (f->message_type() != google::protobuf::Duration::descriptor()) return false;
  auto* d = static_cast<google::protobuf::Duration*>(r->MutableMessage(&m, f));
  d->set_seconds(seconds);
  d->set_nanos(nanos);
  return true;
}

const char* KindName(v1::Stat::Kind k) { return k == v1::Stat::COUNTER ? "counter" : "gauge"; }

const char* UnitName(v1::Stat::Unit u) {
  switch (u) {
    case v1::Stat::BYTES:
      return "bytes";
    case v1::Stat::SECONDS:
      return "seconds";
    case v1::Stat::RATIO:
      return "ratio";
    case v1::Stat::TIMESTAMP:
      return "timestamp";
    default:
      return "count";
  }
}

}  // namespace shmpool::api
