// libFuzzer target: every RPC of every service shmpoold serves, in-process. The services are
// registered on a gRPC server as the daemon registers them, over a real ArenaRegistry with
// two arenas in a private shm directory; the fuzzer walks their descriptors (a service's
// full name from its generated class, its methods from the descriptor pool), so an RPC
// added to a service is fuzzed with no change here.
//
// Each input makes a few calls. Per call it picks a method, a connection (a Unix socket
// whose peer this process is, as the daemon's listener records it: local, the daemon's uid;
// or an in-process channel: a remote peer, unauthenticated) and a request: built by
// reflection (each field set or not; strings from what earlier responses held, the world's
// names or raw bytes; numbers at and around their limits; repeated and nested fields), or
// raw bytes parsed as the request type (inputs that do not parse are skipped, as gRPC would
// refuse them). Streams are read until they end or go quiet, then cancelled. Any crash,
// sanitizer report or hang is a bug; an error status is a fine answer, except UNIMPLEMENTED:
// a listed service that was not registered.
#include <fuzzer/FuzzedDataProvider.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "server/core/arena_registry.h"
#include "server/core/authz.h"
#include "server/core/peer_table.h"
#include "server/core/session_registry.h"
#include "server/rpc/arena_service.h"
#include "server/rpc/pool_service.h"
#include "server/rpc/session_service.h"
#include "server/rpc/stats_service.h"

namespace shmpool::server {
namespace {

namespace pb = google::protobuf;

constexpr int kCallsPerInput = 4;
constexpr int kMaxDepth = 3;                            // nested messages filled
constexpr size_t kMaxHarvest = 64;                      // strings and numbers kept from responses
constexpr auto kQuiet = std::chrono::milliseconds(50);  // a stream that says nothing more

// The daemon's services and a server for them, with two connections to it.
class World {
 public:
  World()
      : dir_("/dev/shm/shmpool-reqfuzz-" + std::to_string(getpid())),
        sessions_(64),
        arenas_(dir_, Limits{.max_arena_capacity = 4 << 20, .max_arenas = 8, .max_sessions = 64},
                &sessions_),
        authz_(geteuid(), std::nullopt, /*remote_authenticated=*/false),
        arena_service_(&arenas_, &peers_, &authz_),
        session_service_(&arenas_, &sessions_, &peers_, &authz_),
        stats_service_(&arenas_, &sessions_, &peers_, &authz_, &stopping_),
        pool_service_(&arenas_, &peers_, &authz_) {
    std::filesystem::create_directories(dir_);
    for (const char* id : {"default", "b"}) {
      ArenaSpec spec;
      spec.id = id;
      spec.capacity = 1 << 20;
      if (!arenas_.Create(spec).ok()) __builtin_trap();
    }
    stopping_.Notify();  // WatchStats ends at once
    grpc::ServerBuilder builder;
    Register<v1::ArenaService>(builder, arena_service_);
    Register<v1::SessionService>(builder, session_service_);
    Register<v1::StatsService>(builder, stats_service_);
    Register<v1::PoolService>(builder, pool_service_);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr) __builtin_trap();
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) __builtin_trap();
    peers_.Record(fds[0], getpid(), geteuid(), getegid());
    grpc::AddInsecureChannelFromFd(server_.get(), fds[0]);
    local_ = std::make_unique<grpc::GenericStub>(grpc::CreateInsecureChannelFromFd("", fds[1]));
    remote_ = std::make_unique<grpc::GenericStub>(server_->InProcessChannel({}));
  }

  const std::vector<const pb::MethodDescriptor*>& methods() const { return methods_; }
  grpc::GenericStub& stub(bool local) { return local ? *local_ : *remote_; }
  const std::string& dir() const { return dir_; }

 private:
  // Registers `impl` and lists the methods of its service's descriptor.
  template <typename Service>
  void Register(grpc::ServerBuilder& builder, grpc::Service& impl) {
    builder.RegisterService(&impl);
    const pb::ServiceDescriptor* s =
        pb::DescriptorPool::generated_pool()->FindServiceByName(Service::service_full_name());
    if (s == nullptr) __builtin_trap();
    for (int i = 0; i < s->method_count(); ++i) methods_.push_back(s->method(i));
  }

  std::string dir_;
  SessionRegistry sessions_;
  ArenaRegistry arenas_;
  PeerTable peers_;
  Authz authz_;
  absl::Notification stopping_;
  ArenaServiceImpl arena_service_;
  SessionServiceImpl session_service_;
  StatsServiceImpl stats_service_;
  PoolServiceImpl pool_service_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<const pb::MethodDescriptor*> methods_;
  std::unique_ptr<grpc::GenericStub> local_, remote_;
};

World& TheWorld() {
  static World* world = [] {
    World* w = new World();
    // libFuzzer ends with exit(): remove the shm directory, then end there, the server still
    // running (its threads would otherwise meet the exit-time teardown; the daemon's
    // shutdown has its own tests).
    std::atexit([] {
      std::filesystem::remove_all(TheWorld().dir());
      _exit(0);
    });
    return w;
  }();
  return *world;
}

// Values that answers held (arena names, session names, sizes), offered to later requests:
// the world's own names and a few sizes first, then what responses carried, at most
// kMaxHarvest of each kind (the first ones kept).
struct Harvest {
  std::vector<std::string> strings = {"default", "b", "", "c", "sessions/1", "../default"};
  std::vector<uint64_t> numbers = {0, 1, 4096, 1 << 20, 4 << 20};

  void Take(const pb::Message& m) {
    const pb::Reflection* r = m.GetReflection();
    std::vector<const pb::FieldDescriptor*> fields;
    r->ListFields(m, &fields);
    for (const pb::FieldDescriptor* f : fields) {
      if (f->is_repeated()) {
        if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && r->FieldSize(m, f) > 0)
          Take(r->GetRepeatedMessage(m, f, 0));
        continue;
      }
      switch (f->cpp_type()) {
        case pb::FieldDescriptor::CPPTYPE_STRING:
          Keep(strings, r->GetString(m, f));
          break;
        case pb::FieldDescriptor::CPPTYPE_MESSAGE:
          Take(r->GetMessage(m, f));
          break;
        case pb::FieldDescriptor::CPPTYPE_UINT64:
          Keep(numbers, r->GetUInt64(m, f));
          break;
        case pb::FieldDescriptor::CPPTYPE_INT64:
          Keep(numbers, static_cast<uint64_t>(r->GetInt64(m, f)));
          break;
        case pb::FieldDescriptor::CPPTYPE_INT32:
          Keep(numbers, static_cast<uint64_t>(r->GetInt32(m, f)));
          break;
        default:
          break;
      }
    }
  }
  template <typename T>
  static void Keep(std::vector<T>& v, const T& x) {
    if (v.size() < kMaxHarvest) v.push_back(x);
  }
};

Harvest& TheHarvest() {
  static Harvest* h = new Harvest();
  return *h;
}

template <typename T>
T Number(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0:
      return in.ConsumeIntegral<T>();
    case 1: {
      const std::vector<uint64_t>& n = TheHarvest().numbers;
      return static_cast<T>(n[in.ConsumeIntegralInRange<size_t>(0, n.size() - 1)]);
    }
    case 2:
      return std::numeric_limits<T>::max() - in.ConsumeIntegralInRange<T>(0, 2);
    default:
      return std::numeric_limits<T>::min() + in.ConsumeIntegralInRange<T>(0, 2);
  }
}

std::string String(FuzzedDataProvider& in) {
  if (in.ConsumeBool()) {  // printable: a string field that is not UTF-8 fails to parse
    std::string s = in.ConsumeRandomLengthString(300);
    for (char& c : s) c = static_cast<char>(' ' + static_cast<unsigned char>(c) % 95);
    return s;
  }
  const std::vector<std::string>& s = TheHarvest().strings;
  return s[in.ConsumeIntegralInRange<size_t>(0, s.size() - 1)];
}

void Fill(pb::Message& m, FuzzedDataProvider& in, int depth);

// Sets (or adds, for a repeated field) one value of `f`.
void SetOne(pb::Message& m, const pb::FieldDescriptor* f, FuzzedDataProvider& in, int depth) {
  const pb::Reflection* r = m.GetReflection();
  const bool add = f->is_repeated();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      add ? r->AddInt32(&m, f, Number<int32_t>(in)) : r->SetInt32(&m, f, Number<int32_t>(in));
      break;
    case pb::FieldDescriptor::CPPTYPE_INT64:
      add ? r->AddInt64(&m, f, Number<int64_t>(in)) : r->SetInt64(&m, f, Number<int64_t>(in));
      break;
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      add ? r->AddUInt32(&m, f, Number<uint32_t>(in)) : r->SetUInt32(&m, f, Number<uint32_t>(in));
      break;
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      add ? r->AddUInt64(&m, f, Number<uint64_t>(in)) : r->SetUInt64(&m, f, Number<uint64_t>(in));
      break;
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      add ? r->AddDouble(&m, f, in.ConsumeFloatingPoint<double>())
          : r->SetDouble(&m, f, in.ConsumeFloatingPoint<double>());
      break;
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      add ? r->AddFloat(&m, f, in.ConsumeFloatingPoint<float>())
          : r->SetFloat(&m, f, in.ConsumeFloatingPoint<float>());
      break;
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      add ? r->AddBool(&m, f, in.ConsumeBool()) : r->SetBool(&m, f, in.ConsumeBool());
      break;
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      // A declared value mostly; sometimes any number (proto3 enums are open).
      const pb::EnumDescriptor* e = f->enum_type();
      const int v = in.ConsumeBool()
                        ? e->value(in.ConsumeIntegralInRange(0, e->value_count() - 1))->number()
                        : in.ConsumeIntegral<int32_t>();
      add ? r->AddEnumValue(&m, f, v) : r->SetEnumValue(&m, f, v);
      break;
    }
    case pb::FieldDescriptor::CPPTYPE_STRING:
      add ? r->AddString(&m, f, String(in)) : r->SetString(&m, f, String(in));
      break;
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      if (depth < kMaxDepth)
        Fill(add ? *r->AddMessage(&m, f) : *r->MutableMessage(&m, f), in, depth + 1);
      break;
  }
}

void Fill(pb::Message& m, FuzzedDataProvider& in, int depth) {
  const pb::Descriptor* d = m.GetDescriptor();
  for (int i = 0; i < d->field_count() && in.remaining_bytes() > 0; ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (!in.ConsumeBool()) continue;
    for (int n = f->is_repeated() ? in.ConsumeIntegralInRange(0, 3) : 1; n > 0; --n)
      SetOne(m, f, in, depth);
  }
}

// One call of `method` through `stub` (any kind: a unary call is one message each way on
// the wire). Returns its status.
grpc::Status Invoke(grpc::GenericStub& stub, const pb::MethodDescriptor* method,
                    const std::string& request) {
  const std::string path = "/" + method->service()->full_name() + "/" + method->name();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(&ctx, path, &cq);
  void* tag;
  bool ok = false;
  auto step = [&](int t) { return cq.Next(&tag, &ok) && tag == reinterpret_cast<void*>(t) && ok; };
  call->StartCall(reinterpret_cast<void*>(1));
  bool alive = step(1);
  if (alive) {
    grpc::Slice slice(request);
    call->Write(grpc::ByteBuffer(&slice, 1), reinterpret_cast<void*>(2));
    alive = step(2);
  }
  if (alive) {
    call->WritesDone(reinterpret_cast<void*>(3));
    alive = step(3);
  }
  const pb::Message* out =
      pb::MessageFactory::generated_factory()->GetPrototype(method->output_type());
  for (int n = 0; alive && n < 8; ++n) {
    grpc::ByteBuffer bb;
    call->Read(&bb, reinterpret_cast<void*>(4));
    if (cq.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + kQuiet) ==
        grpc::CompletionQueue::TIMEOUT) {
      ctx.TryCancel();  // a stream that stays open (a session): done with it
      cq.Next(&tag, &ok);
      break;
    }
    alive = ok;
    std::vector<grpc::Slice> slices;
    if (!ok || !bb.Dump(&slices).ok()) break;
    std::string bytes;
    for (const grpc::Slice& s : slices)
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    std::unique_ptr<pb::Message> resp(out->New());
    if (resp->ParseFromString(bytes)) TheHarvest().Take(*resp);
  }
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(5)) {
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

}  // namespace
}  // namespace shmpool::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace pb = google::protobuf;
  using shmpool::server::TheWorld;
  shmpool::server::World& w = TheWorld();
  FuzzedDataProvider in(data, size);
  for (int i = 0; i < shmpool::server::kCallsPerInput && in.remaining_bytes() > 0; ++i) {
    const pb::MethodDescriptor* method =
        w.methods()[in.ConsumeIntegralInRange<size_t>(0, w.methods().size() - 1)];
    const bool local = in.ConsumeBool();
    std::unique_ptr<pb::Message> req(
        pb::MessageFactory::generated_factory()->GetPrototype(method->input_type())->New());
    if (in.ConsumeBool()) {
      if (!req->ParseFromString(in.ConsumeRandomLengthString(1024))) continue;
    } else {
      shmpool::server::Fill(*req, in, 0);
    }
    const grpc::Status st =
        shmpool::server::Invoke(w.stub(local), method, req->SerializeAsString());
    if (st.error_code() == grpc::StatusCode::UNIMPLEMENTED) __builtin_trap();  // not registered
  }
  return 0;
}
