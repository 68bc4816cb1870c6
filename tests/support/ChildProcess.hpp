#pragma once
// A program of this build (a sample) in a child process, for tests that drive it from
// outside: its stdout and stderr come back through one pipe, and every byte read is also
// copied to this process's stderr, so that a sanitizer report from the child lands in the
// test's log (scripts/sanitize.sh looks there).

#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <sys/types.h>

namespace wharf::test {

class ChildProcess {
public:
    /// Starts `executable` with `args`, in this process's environment with `environment`
    /// ("NAME=value") set on top. Throws std::runtime_error when it cannot be started.
    ChildProcess(const std::string& executable, const std::vector<std::string>& args,
                 const std::vector<std::string>& environment = {});
    /// Sends SIGTERM if it still runs, SIGKILL when it has not ended 10 s later; reaps it.
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    void signal(int number) const;
    /// Reads until the output so far has a match of `pattern`; returns the match and its
    /// groups, or nullopt when the output ends or `timeout` passes first.
    std::optional<std::vector<std::string>> waitForOutput(const std::regex& pattern,
                                                          std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// Waits until it has exited (its output read to the end) and returns its wait status
    /// (as waitpid gives it); nullopt when it still runs after `timeout`.
    std::optional<int> waitForExit(std::chrono::milliseconds timeout);
    const std::string& output() const { return output_; }

private:
    /// Appends what the child wrote; false at the end of its output or at the deadline.
    bool readSome(std::chrono::steady_clock::time_point deadline);

    pid_t pid_ = -1;
    int out_ = -1;
    bool ended_ = false;  // its output is at its end
    std::optional<int> status_;
    std::string output_;
};

}  // namespace wharf::test
