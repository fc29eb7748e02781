// `shmpoolctl segments list|remove`: segment files whose daemon is gone for good. These
// commands read the shm directory and the segment files themselves, without a daemon:
// list shows each segment file (retired generations of reset arenas included), its arena,
// whether it validates, its generation, and its attached processes (live, or dead and not
// yet reclaimed); remove deletes a segment file (and its .meta sidecar), refusing while a
// process is attached and alive unless --force, and while a daemon serves the directory
// (it holds shmpool.lock: use `arena delete` then).
#pragma once

#include "ctl/args.h"

namespace shmpool::ctl {

// args.words[0] == "segments". Exit codes as in commands.h.
int SegmentsCommand(const Args& args);

}  // namespace shmpool::ctl
