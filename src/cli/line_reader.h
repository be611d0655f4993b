// The input of `triad submit` and `triad verify`: lines of a file or of
// standard input, read with read(2).
//
// std::getline on a std::ifstream took a read error for the end of the
// input: a directory opens, its first read fails (EISDIR), and the command
// went on as if the file were empty (`triad submit DIR` exited 0 having sent
// nothing); an I/O error mid-file silently cut the input short. Here a read
// error is an error, with its reason.
#pragma once

#include <cstddef>
#include <string>

#include "triad/status.h"

namespace triad::cli {

class LineReader {
 public:
  LineReader() = default;
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // "-": standard input; else the file at `path`. An error naming it when it
  // cannot be opened or is a directory.
  Status open(const std::string& path);

  // The next line, without its '\n' (the last one may have none), into
  // *line. false at the end of the input, or at a read error: error() then
  // says which. Waits for input when none is there.
  bool next(std::string* line);

  // Ok, or the read error that ended the input (naming the file).
  const Status& error() const { return error_; }

  // A pipe, a FIFO, a terminal or a socket: lines come as they are written.
  bool streaming() const { return streaming_; }

  // Bytes read and not handed out yet.
  bool buffered() const { return start_ < buffer_.size(); }

  int fd() const { return fd_; }

 private:
  // One read(2) into the buffer: false at the end of the input or an error.
  bool fill();

  std::string name_;  // "standard input" or the path, for messages
  int fd_ = -1;
  bool own_fd_ = false;
  bool streaming_ = false;
  std::string buffer_;     // bytes read; those before start_ are handed out
  std::size_t start_ = 0;  // first byte not handed out
  bool end_ = false;       // the end of the input, or a read error, was met
  Status error_;
};

}  // namespace triad::cli
