// The input of `triad submit` and `triad verify`: lines of a file or of
// standard input, read with read(2), so that a read error (a directory, an
// I/O error mid-file) is an error with its reason and not the end of the
// input, as std::getline on a std::ifstream takes it.
//
// From a pipe, a FIFO or a terminal, next_ready() reads what has arrived
// without waiting for the rest of a line, so the complete lines before a
// line only partly written are not held back.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "triad/status.h"

namespace triad::cli {

class LineReader {
 public:
  // A line longer than `max_line_bytes` (without its newline) is not kept:
  // its bytes are counted and dropped as they come, so a line that never
  // ends does not take the memory with it. 0: no limit.
  explicit LineReader(std::size_t max_line_bytes = 0) : max_line_bytes_(max_line_bytes) {}
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // "-": standard input; else the file at `path`. An error naming it when it
  // cannot be opened or is a directory.
  Status open(const std::string& path);

  enum class Got {
    kLine,     // *line holds the next line, without its '\n' (the last one may have none)
    kTooLong,  // the next line was longer than max_line_bytes: *bytes says how long
    kEnd,      // the end of the input, or a read error: error() says which
  };
  // The next line; *bytes (when given) is its length. Waits for input when
  // no complete line is there.
  Got next(std::string* line, std::size_t* bytes = nullptr);

  // Whether next() returns without waiting: a complete line (or the end of
  // the input) is there. From a stream, reads once what has arrived, without
  // waiting; a file is always ready.
  bool next_ready();

  // Ok, or the read error that ended the input (naming the file).
  const Status& error() const { return error_; }

  // A pipe, a FIFO, a terminal or a socket: lines come as they are written.
  bool streaming() const { return streaming_; }

 private:
  // One read(2) into the buffer; sets end_ at the end of the input or an
  // error.
  void fill();
  // Whether a complete line is in the buffer. When not, a partial line past
  // the limit is dropped (its length kept in skipped_).
  bool line_complete();
  // The next line when it is complete or the input has ended, else nullopt.
  std::optional<Got> take(std::string* line, std::size_t* bytes);

  std::size_t max_line_bytes_;
  std::string name_;  // "standard input" or the path, for messages
  int fd_ = -1;
  bool own_fd_ = false;
  bool streaming_ = false;
  std::string buffer_;       // bytes read; those before start_ are handed out
  std::size_t start_ = 0;    // first byte not handed out
  std::size_t scanned_ = 0;  // [start_, scanned_) holds no '\n'
  std::size_t skipped_ = 0;  // bytes of the current line dropped, past the limit
  bool end_ = false;         // the end of the input, or a read error, was met
  Status error_;
};

}  // namespace triad::cli
