// Sizes as people write them: "4096", "64MiB", "1GiB", "512K". Units are binary (1 KiB =
// 1024 B) and case-insensitive: B, K/KiB, M/MiB, G/GiB, T/TiB.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shmpool::api {

// INVALID_ARGUMENT saying what is wrong for anything but a whole number of bytes that
// fits 64 bits.
absl::StatusOr<uint64_t> ParseSize(absl::string_view text);

// "1 GiB", "64 MiB", "1.5 KiB", "123 B": exact when a whole number of the unit, else one
// decimal.
std::string FormatSize(uint64_t bytes);

}  // namespace shmpool::api
