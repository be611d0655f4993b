// SIGINT, SIGTERM and SIGHUP, the signals that ask a Triad process to stop,
// taken as a descriptor instead of by a handler. (SIGHUP, sent when the
// terminal or session that started `triad up` closes, killed it outright
// before 2026-12-05: no clean stop, answered decisions missing from the
// audit store. Under nohup, which ignores it, it stays ignored.)
//
// A handler interrupts whatever system call its thread was in; inside
// libzmq, whose recv and send look at the socket's command mailbox, that
// surfaces as EINTR from any ZeroMQ call, which cppzmq throws (it aborted
// `triad up` on SIGTERM now and then). Blocked in every thread, the signals
// interrupt nothing: they stay pending and make one descriptor readable,
// which a loop polls beside its sockets.
#pragma once

#include <spawn.h>

#include "triad/status.h"

namespace triad::stop_signals {

// Blocks the three signals in the calling thread and opens the descriptor.
// Threads inherit the mask of the thread that starts them (libzmq's own
// threads block every signal), so call this on the main thread before any
// thread is started. Calling it again does nothing.
Status block();

// Readable from the moment one of them arrives until the process ends
// (nothing ever reads it); -1 before block().
int fd();

// Whether a stop was asked: a poll of fd() that does not wait. It is a
// system call: a hot loop polls fd() with its sockets instead.
bool requested();

// posix_spawn, with the child beginning with the signal mask this process
// had before block(), so that a program that does not take its signals this
// way still stops on SIGTERM (a blocked mask survives exec). Returns
// posix_spawn's error number, 0 on success.
int spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
          char* const argv[]);

}  // namespace triad::stop_signals
