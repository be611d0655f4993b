#include "loadgen/cpu.h"

#include <dirent.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace triad::loadgen {
namespace {

struct ProcStat {
  pid_t ppid = 0;
  std::uint64_t cpu_ticks = 0;  // utime + stime
};

// /proc/PID/stat: "pid (comm) state ppid ... utime(14) stime(15) ...". The
// command name may hold spaces and parentheses, so fields count from the last ')'.
bool read_stat(pid_t pid, ProcStat* out) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 2));
  std::vector<std::string> f;
  for (std::string x; fields >> x && f.size() < 13;) f.push_back(x);
  if (f.size() < 13) return false;
  // After the name: state(3) ppid(4) ... utime(14) stime(15), here 0-based from field 3.
  out->ppid = static_cast<pid_t>(std::stoll(f[1]));
  out->cpu_ticks = std::stoull(f[11]) + std::stoull(f[12]);
  return true;
}

}  // namespace

std::uint64_t process_tree_cpu_us(pid_t root) {
  std::map<pid_t, ProcStat> all;
  if (DIR* d = ::opendir("/proc")) {
    while (const dirent* e = ::readdir(d)) {
      char* end = nullptr;
      const long pid = std::strtol(e->d_name, &end, 10);
      if (end == e->d_name || *end != '\0') continue;
      ProcStat s;
      if (read_stat(static_cast<pid_t>(pid), &s)) all[static_cast<pid_t>(pid)] = s;
    }
    ::closedir(d);
  }
  std::uint64_t ticks = 0;
  std::vector<pid_t> frontier = {root};
  while (!frontier.empty()) {
    const pid_t p = frontier.back();
    frontier.pop_back();
    const auto it = all.find(p);
    if (it == all.end()) continue;
    ticks += it->second.cpu_ticks;
    for (const auto& [pid, s] : all) {
      if (s.ppid == p) frontier.push_back(pid);
    }
  }
  const long hz = ::sysconf(_SC_CLK_TCK);
  return hz > 0 ? ticks * 1'000'000 / static_cast<std::uint64_t>(hz) : 0;
}

std::uint64_t self_cpu_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
}

}  // namespace triad::loadgen
