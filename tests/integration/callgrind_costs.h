// Reads callgrind output files: the inclusive cost (the first event, Ir by default) of
// every function in one dump, keyed by the dump's trigger ("Client Request: NAME" gives
// NAME). Inclusive = the function's own cost lines plus the cost line that follows each of
// its calls= lines (callgrind writes a call's inclusive cost there). Names may be
// compressed: "fn=(7) name" defines id 7, later "fn=(7)" and "cfn=(7)" refer to it.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace shmpool::testing {

struct CallgrindDump {
  std::string trigger;                        // after "Client Request: ", or the whole desc
  std::map<std::string, uint64_t> inclusive;  // function name -> Ir
};

// The name a "fn=" or "cfn=" value denotes, recording a definition "(id) name".
inline std::string CallgrindName(const std::string& v, std::map<std::string, std::string>& ids) {
  if (v.empty() || v[0] != '(') return v;
  const size_t close = v.find(')');
  const std::string id = v.substr(0, close + 1);
  if (close + 1 < v.size()) ids[id] = v.substr(close + 2);
  return ids[id];
}

inline CallgrindDump ReadCallgrindDump(const std::string& path) {
  CallgrindDump d;
  std::ifstream in(path);
  std::map<std::string, std::string> ids;
  std::string fn, line;
  const std::string request = "desc: Trigger: Client Request: ";
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const char c0 = line[0];
    if ((c0 >= '0' && c0 <= '9') || c0 == '+' || c0 == '-' || c0 == '*') {
      std::istringstream cost(line);
      std::string pos;
      uint64_t ir = 0;
      cost >> pos >> ir;
      if (!fn.empty()) d.inclusive[fn] += ir;
      continue;
    }
    if (line.rfind("fn=", 0) == 0) {
      fn = CallgrindName(line.substr(3), ids);
    } else if (line.rfind("cfn=", 0) == 0) {
      CallgrindName(line.substr(4), ids);
    } else if (line.rfind(request, 0) == 0) {
      d.trigger = line.substr(request.size());
    } else if (line.rfind("desc: Trigger: ", 0) == 0) {
      d.trigger = line.substr(15);
    }
  }
  return d;
}

}  // namespace shmpool::testing
