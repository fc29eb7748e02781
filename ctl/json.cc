#include "ctl/json.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "shmpool/v1/stat_options.pb.h"

namespace shmpool::ctl {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

void AppendString(std::string& out, const std::string& s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20)
          absl::StrAppendFormat(&out, "\\u%04x", c);
        else
          out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

void AppendDouble(std::string& out, double d) {
  if (!std::isfinite(d)) return absl::StrAppend(&out, "null");
  absl::StrAppendFormat(&out, "%.9g", d);
}

void AppendMessage(std::string& out, const Message& m);

void AppendValue(std::string& out, const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrAppend(&out, rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrAppend(&out, rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrAppend(&out, rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrAppend(&out, rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return AppendDouble(out, rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return AppendDouble(out, rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return absl::StrAppend(
          &out, (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false");
    case FieldDescriptor::CPPTYPE_STRING:
      return AppendString(out, rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f));
    case FieldDescriptor::CPPTYPE_ENUM:
      return AppendString(out, (rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f))->name());
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return AppendMessage(out, rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
  }
}

void AppendMessage(std::string& out, const Message& m) {
  const std::string& type = m.GetDescriptor()->full_name();
  if (type == "google.protobuf.Timestamp") {
    google::protobuf::Timestamp t;
    t.CopyFrom(m);
    return AppendString(out, google::protobuf::util::TimeUtil::ToString(t));
  }
  if (type == "google.protobuf.Duration") {
    google::protobuf::Duration d;
    d.CopyFrom(m);
    return AppendDouble(out, static_cast<double>(d.seconds()) + d.nanos() / 1e9);
  }
  const Reflection* r = m.GetReflection();
  const google::protobuf::Descriptor* desc = m.GetDescriptor();
  out.push_back('{');
  bool first = true;
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    const bool unset = !f->is_repeated() && f->has_presence() && !r->HasField(m, f);
    // An undefined statistic (an unset optional ratio) is null; other unset fields are left out.
    const bool null = unset && f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE &&
                      f->options().HasExtension(v1::stat);
    if (unset && !null) continue;
    if (!first) out.push_back(',');
    first = false;
    AppendString(out, f->name());
    out.push_back(':');
    if (null) {
      out += "null";
      continue;
    }
    if (!f->is_repeated()) {
      AppendValue(out, m, f, 0);
      continue;
    }
    out.push_back('[');
    for (int k = 0; k < r->FieldSize(m, f); ++k) {
      if (k) out.push_back(',');
      AppendValue(out, m, f, k);
    }
    out.push_back(']');
  }
  out.push_back('}');
}

}  // namespace

std::string ToJson(const Message& message) {
  std::string out;
  AppendMessage(out, message);
  return out;
}

std::string JsonString(const std::string& s) {
  std::string out;
  AppendString(out, s);
  return out;
}

}  // namespace shmpool::ctl
