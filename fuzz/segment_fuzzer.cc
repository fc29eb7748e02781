// libFuzzer target: a corrupted or truncated segment file must be refused, never crash.
// The input mutates a valid segment's image: its first 4 bytes choose the length to keep
// (truncation), the rest are (offset, xor) patches applied near the start, where the header
// and the section tables live. Each image goes through Segment::ValidateImage (in memory)
// and Segment::FromFd (a memfd of that size, mapped as a client would).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "shm/segment.h"

namespace {

// A valid segment of a small geometry, read into memory once.
const std::vector<uint8_t>& BaseImage() {
  static const std::vector<uint8_t> image = [] {
    const std::string path = "/dev/shm/shmpool-fuzz-" + std::to_string(getpid()) + ".seg";
    shmpool::shm::Geometry g;
    g.capacity = 64 << 10;
    g.max_procs = 4;
    g.max_thread_caches = 4;
    std::vector<uint8_t> out;
    auto seg = shmpool::shm::Segment::Create(path, g);
    if (seg.ok()) {
      const uint64_t size = (*seg)->sections().total;
      out.assign((*seg)->base(), (*seg)->base() + size);
    }
    unlink(path.c_str());
    if (out.empty()) __builtin_trap();  // cannot even make the seed image
    return out;
  }();
  return image;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> image = BaseImage();
  if (size >= 4) {
    uint32_t keep;
    std::memcpy(&keep, data, 4);
    // Mostly whole images; sometimes truncated anywhere.
    if (keep & 1) image.resize(keep % (image.size() + 1));
    data += 4;
    size -= 4;
  }
  const size_t window = std::min<size_t>(image.size(), 8192);
  for (; size >= 3 && window > 0; data += 3, size -= 3) {
    const uint16_t off = static_cast<uint16_t>(data[0] | (data[1] << 8));
    image[off % window] ^= data[2];
  }
  (void)shmpool::shm::Segment::ValidateImage(image.data(), image.size());
  const int fd = memfd_create("shmpool-fuzz", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (!image.empty() &&
      write(fd, image.data(), image.size()) != static_cast<ssize_t>(image.size())) {
    close(fd);
    return 0;
  }
  auto seg = shmpool::shm::Segment::FromFd(fd, "memfd");  // takes the fd
  if (!seg.ok()) return 0;
  // Accepted: its geometry must describe the image it was given.
  if ((*seg)->sections().total > image.size()) __builtin_trap();
  return 0;
}
