#include "common/stop_signals.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

extern char** environ;

namespace triad::stop_signals {
namespace {

std::mutex g_block_mutex;  // block() once, even if two threads race
std::atomic<int> g_fd{-1};
sigset_t g_mask_before;  // written once, before g_fd is set

}  // namespace

Status block() {
  const std::lock_guard lock(g_block_mutex);
  if (g_fd >= 0) return Status::ok();
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  // Unless it is ignored (nohup, trap '' HUP): a blocked signal is queued,
  // and so read from the descriptor, even when its disposition is ignore.
  struct sigaction hup {};
  if (::sigaction(SIGHUP, nullptr, &hup) == 0 && hup.sa_handler != SIG_IGN) {
    sigaddset(&stop, SIGHUP);
  }
  if (const int rc = pthread_sigmask(SIG_BLOCK, &stop, &g_mask_before); rc != 0) {
    return Status::internal(std::string("cannot block SIGINT/SIGTERM/SIGHUP: ") +
                            std::strerror(rc));
  }
  const int fd = ::signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) {
    const int e = errno;
    pthread_sigmask(SIG_SETMASK, &g_mask_before, nullptr);
    return Status::internal(std::string("cannot open a signalfd: ") + std::strerror(e));
  }
  g_fd.store(fd);
  return Status::ok();
}

int fd() { return g_fd.load(std::memory_order_relaxed); }

bool requested() {
  pollfd p{fd(), POLLIN, 0};
  return p.fd >= 0 && ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

int spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
          char* const argv[]) {
  posix_spawnattr_t attr;
  if (const int rc = posix_spawnattr_init(&attr); rc != 0) return rc;
  int rc = 0;
  if (g_fd.load() >= 0) {  // else nothing was blocked: the child inherits the mask as it is
    rc = posix_spawnattr_setsigmask(&attr, &g_mask_before);
    if (rc == 0) rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  }
  if (rc == 0) rc = ::posix_spawn(pid, path, actions, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  return rc;
}

}  // namespace triad::stop_signals
