#include "support/ChildProcess.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace wharf::test {

ChildProcess::ChildProcess(const std::string& executable, const std::vector<std::string>& args,
                           const std::vector<std::string>& environment)
{
    int pipeFds[2];
    if (::pipe(pipeFds) != 0) throw std::runtime_error(std::string("ChildProcess: pipe: ") + std::strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipeFds[0]);
    posix_spawn_file_actions_addclose(&actions, pipeFds[1]);
    // Nothing else of this process goes with it: asio opens its sockets without
    // SOCK_CLOEXEC, and a child holding a server's sockets keeps them open after the
    // server closed them (no FIN reaches the peer) and even listening.
    posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);

    std::vector<std::string> argStrings{executable};
    argStrings.insert(argStrings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argStrings) argv.push_back(a.data());
    argv.push_back(nullptr);

    std::vector<std::string> envStrings = environment;
    for (char** e = environ; *e; ++e) {
        const std::string_view variable(*e);
        const auto name = variable.substr(0, variable.find('=') + 1);
        bool overridden = false;
        for (const auto& set : environment) overridden = overridden || set.starts_with(name);
        if (!overridden) envStrings.emplace_back(variable);
    }
    std::vector<char*> envp;
    for (auto& e : envStrings) envp.push_back(e.data());
    envp.push_back(nullptr);

    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipeFds[1]);
    out_ = pipeFds[0];
    if (rc != 0) {
        ::close(out_);
        throw std::runtime_error("ChildProcess: cannot start " + executable + ": " + std::strerror(rc));
    }
}

ChildProcess::~ChildProcess()
{
    if (!status_) {
        ::kill(pid_, SIGTERM);
        if (!waitForExit(std::chrono::seconds(10))) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
    }
    ::close(out_);
}

void ChildProcess::signal(int number) const { ::kill(pid_, number); }

std::optional<std::vector<std::string>> ChildProcess::waitForOutput(const std::regex& pattern,
                                                                    std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::smatch match;
    while (!std::regex_search(output_, match, pattern))
        if (!readSome(deadline)) return std::nullopt;
    return std::vector<std::string>(match.begin(), match.end());
}

std::optional<int> ChildProcess::waitForExit(std::chrono::milliseconds timeout)
{
    if (status_) return status_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (readSome(deadline)) {}
    if (!ended_) return std::nullopt;
    // Its output ended: it has exited or is exiting.
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return std::nullopt;
    return status_ = status;
}

bool ChildProcess::readSome(std::chrono::steady_clock::time_point deadline)
{
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[4096];
    const auto n = ::read(out_, buffer, sizeof buffer);
    if (n <= 0) {
        ended_ = true;
        return false;
    }
    output_.append(buffer, static_cast<std::size_t>(n));
    std::fwrite(buffer, 1, static_cast<std::size_t>(n), stderr);
    return true;
}

}  // namespace wharf::test
