// Names the calling thread (Linux keeps 15 characters), so that `top -H`,
// `ps -L` and a profiler tell a process's threads apart.
#pragma once

#include <pthread.h>

namespace triad {

inline void name_this_thread(const char* name) {
  (void)pthread_setname_np(pthread_self(), name);  // only fails for a name too long
}

}  // namespace triad
