// The chat sample as built (wharf-chat), run on a free loopback port: its WebSocket takes
// only its own pages' origins, so a page on another site cannot use a visitor's browser
// to read and post in the chat (cross-site WebSocket hijacking).
// Built only with the samples (WHARF_CHAT_EXECUTABLE names the binary).

#include "support/RawClient.hpp"

#include <doctest/doctest.h>

#ifdef WHARF_CHAT_EXECUTABLE

#include <chrono>
#include <cstring>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

using namespace wharf::test;
using namespace std::chrono_literals;

namespace {

/// A loopback port nobody listens on right now (the chat's origins name its port, so it
/// must be known before the chat starts; a start that loses the port to another process
/// is retried).
std::uint16_t freePort()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        throw std::runtime_error(std::string("freePort: ") + std::strerror(errno));
    ::close(fd);
    return ntohs(address.sin_port);
}

/// wharf-chat in a child process, stdout read through a pipe; SIGTERM and reaped on destruction.
class ChatProcess {
public:
    explicit ChatProcess(const std::vector<std::string>& args)
    {
        int pipeFds[2];
        if (::pipe(pipeFds) != 0) throw std::runtime_error("pipe failed");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, pipeFds[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&actions, pipeFds[0]);
        posix_spawn_file_actions_addclose(&actions, pipeFds[1]);
        std::vector<std::string> argStrings{WHARF_CHAT_EXECUTABLE};
        argStrings.insert(argStrings.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : argStrings) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::string quiet = "WHARF_LOG=warn";  // its per-connection lines add nothing here
        std::vector<char*> envp{quiet.data()};
        for (char** e = environ; *e; ++e)
            if (std::strncmp(*e, "WHARF_LOG=", 10) != 0) envp.push_back(*e);
        envp.push_back(nullptr);
        const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        ::close(pipeFds[1]);
        out_ = pipeFds[0];
        if (rc != 0) {
            ::close(out_);
            throw std::runtime_error(std::string("cannot start wharf-chat: ") + std::strerror(rc));
        }
    }
    ChatProcess(const ChatProcess&) = delete;
    ChatProcess& operator=(const ChatProcess&) = delete;

    ~ChatProcess()
    {
        ::kill(pid_, SIGTERM);
        // Its stdout ends when it exits (graceful stop: well under the 10 s allowed here).
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (readSome(deadline)) {}
        if (std::chrono::steady_clock::now() >= deadline) ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        ::close(out_);
    }

    /// Waits for the "open http://...:PORT/" line; false when the process ended first.
    bool waitUntilListening()
    {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        static const std::regex listening(R"(open http://\S+:\d+/ in your browser)");
        while (!std::regex_search(output_, listening))
            if (!readSome(deadline)) return false;
        return true;
    }

    const std::string& output() const { return output_; }

private:
    /// Appends what the child wrote; false on EOF or at the deadline.
    bool readSome(std::chrono::steady_clock::time_point deadline)
    {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{out_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char buffer[4096];
        const auto n = ::read(out_, buffer, sizeof buffer);
        if (n <= 0) return false;
        output_.append(buffer, static_cast<std::size_t>(n));
        return true;
    }

    pid_t pid_ = -1;
    int out_ = -1;
    std::string output_;
};

/// The status of a WebSocket handshake to the chat with `extraHeaders` ("Origin: ...\r\n").
int handshakeStatus(std::uint16_t port, const std::string& extraHeaders)
{
    RawClient client(port);
    return client.handshake("/chat", extraHeaders).status;
}

}  // namespace

TEST_SUITE("samples")
{
    TEST_CASE("wharf-chat refuses a WebSocket handshake from a foreign Origin with 403")
    {
        std::uint16_t port = 0;
        std::optional<ChatProcess> chat;
        for (int attempt = 0; attempt < 3 && !chat; ++attempt) {
            port = freePort();
            chat.emplace(std::vector<std::string>{"--port", std::to_string(port), "--host", "127.0.0.1", "--threads",
                                                  "1", "--allow-origin", "https://Chat.Example.com/"});
            if (!chat->waitUntilListening()) chat.reset();  // the port was taken in between
        }
        REQUIRE(chat);
        INFO("wharf-chat said: " << chat->output());
        const auto local = std::to_string(port);
        // A page on another site, or on this host under another port or scheme.
        CHECK(handshakeStatus(port, "Origin: http://evil.example\r\n") == 403);
        CHECK(handshakeStatus(port, "Origin: http://127.0.0.2:" + local + "\r\n") == 403);
        CHECK(handshakeStatus(port, "Origin: https://127.0.0.1:" + local + "\r\n") == 403);
        CHECK(handshakeStatus(port, "Origin: null\r\n") == 403);
        // Its own pages, the --allow-origin one, and clients that are not browsers.
        CHECK(handshakeStatus(port, "Origin: http://127.0.0.1:" + local + "\r\n") == 101);
        CHECK(handshakeStatus(port, "Origin: http://localhost:" + local + "\r\n") == 101);
        CHECK(handshakeStatus(port, "Origin: http://[::1]:" + local + "\r\n") == 101);
        CHECK(handshakeStatus(port, "Origin: https://chat.example.com\r\n") == 101);
        CHECK(handshakeStatus(port, "") == 101);
    }
}

#endif  // WHARF_CHAT_EXECUTABLE
