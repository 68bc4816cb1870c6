// The client samples as built: wharf-echo-client against a wharf server and a server that
// breaks the protocol, wharf-chat-cli against a chat room. Built only with the samples
// (WHARF_ECHO_CLIENT_EXECUTABLE / WHARF_CHAT_CLI_EXECUTABLE name the binaries).

#include "integration/ClientSupport.hpp"
#include "support/RecordingListener.hpp"
#include "support/TestServer.hpp"
#include "websocket/Http11Handshake.hpp"

#include <doctest/doctest.h>

#if defined(WHARF_ECHO_CLIENT_EXECUTABLE) && defined(WHARF_CHAT_CLI_EXECUTABLE)

#include <csignal>
#include <cstring>
#include <set>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

using namespace wharf;
using namespace wharf::test;
using namespace std::chrono_literals;

namespace {

/// A sample in a child process with pipes for stdin, stdout and stderr; killed and reaped
/// on destruction if still running.
class Child {
public:
    explicit Child(std::vector<std::string> args)
    {
        int in[2], out[2], err[2];
        if (::pipe(in) != 0 || ::pipe(out) != 0 || ::pipe(err) != 0) throw std::runtime_error("pipe failed");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
        for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) posix_spawn_file_actions_addclose(&actions, fd);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(in[0]);
        ::close(out[1]);
        ::close(err[1]);
        in_ = in[1];
        out_ = out[0];
        err_ = err[0];
        if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
    }
    ~Child()
    {
        closeStdin();
        if (!exited_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(out_);
        ::close(err_);
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    void write(const std::string& text) { (void)::write(in_, text.data(), text.size()); }
    void closeStdin()
    {
        if (in_ >= 0) ::close(in_);
        in_ = -1;
    }
    /// Reads stdout until it contains `text`; false at the deadline or its end.
    bool waitForOutput(const std::string& text, std::chrono::milliseconds timeout = 5s)
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (stdout_.find(text) == std::string::npos)
            if (!pump(deadline)) return false;
        return true;
    }
    /// Waits for the exit (reading its output meanwhile); the exit status, -1 at the deadline.
    int wait(std::chrono::milliseconds timeout = 10s)
    {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (pump(deadline)) {}
        while (std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                exited_ = true;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(10ms);
        }
        return -1;
    }
    const std::string& out() const { return stdout_; }
    const std::string& err() const { return stderr_; }

private:
    /// Appends what arrived on stdout or stderr; false once both ended or at the deadline.
    bool pump(std::chrono::steady_clock::time_point deadline)
    {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || (outDone_ && errDone_)) return false;
        pollfd p[2] = {{outDone_ ? -1 : out_, POLLIN, 0}, {errDone_ ? -1 : err_, POLLIN, 0}};
        if (::poll(p, 2, static_cast<int>(left.count())) <= 0) return false;
        char buffer[4096];
        for (int i = 0; i < 2; ++i) {
            if (!(p[i].revents & (POLLIN | POLLHUP))) continue;
            const auto n = ::read(p[i].fd, buffer, sizeof buffer);
            if (n <= 0) (i == 0 ? outDone_ : errDone_) = true;
            else (i == 0 ? stdout_ : stderr_).append(buffer, static_cast<std::size_t>(n));
        }
        return true;
    }

    pid_t pid_ = -1;
    int in_ = -1, out_ = -1, err_ = -1;
    bool outDone_ = false, errDone_ = false, exited_ = false;
    std::string stdout_, stderr_;
};

}  // namespace

TEST_SUITE("samples")
{
    TEST_CASE("wharf-echo-client echoes, then prints the server's close code and exits 0")
    {
        auto serverSide = std::make_shared<RecordingListener>();
        serverSide->onConnectHook = [](Session& s) {
            s.sendText("one");
            s.sendBinary(std::string(100000, 'b'));
        };
        TestServer server([&](ServletContextHandler& context) {
            context.addWebSocket("/", [&](WebSocketServletFactory& f) {
                f.setMaxMessageSize(1024 * 1024);
                f.addMapping("/", [&](const UpgradeRequest&, UpgradeResponse&) { return serverSide; });
            });
        });
        Child client({WHARF_ECHO_CLIENT_EXECUTABLE, "ws://127.0.0.1:" + std::to_string(server.port()) + "/"});
        REQUIRE(serverSide->waitFor([](const auto& e) { return e.texts.size() == 1 && e.binaries.size() == 1; }));
        CHECK(serverSide->snapshot().texts[0] == "one");
        CHECK(serverSide->snapshot().binaries[0] == std::string(100000, 'b'));
        serverSide->session().close(static_cast<CloseStatus>(4000), "done");
        CHECK(client.wait() == 0);
        INFO("stderr: " << client.err());
        CHECK(client.out().ends_with("closed 4000\n"));
        REQUIRE(serverSide->waitFor([](const auto& e) { return e.closeCount == 1; }));
        CHECK(*serverSide->snapshot().closeStatus == static_cast<CloseStatus>(4000));
    }

    TEST_CASE("wharf-echo-client fails a server that masks its frames with 1002 and exits 1")
    {
        ScriptedUpgradeServer server([](const std::string& key) {
            return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: " + detail::acceptKey(key) + "\r\n\r\n" +
                   std::string("\x81\x82\x01\x02\x03\x04", 6) + "ik";  // masked "hi"
        });
        Child client({WHARF_ECHO_CLIENT_EXECUTABLE, "ws://127.0.0.1:" + std::to_string(server.port()) + "/"});
        CHECK(client.wait() == 1);
        CHECK(client.err().starts_with("wharf-echo-client: "));
        CHECK(client.err().find("closed 1002") != std::string::npos);
        CHECK(client.out().empty());
    }

    TEST_CASE("wharf-echo-client: a refused connection exits 1, bad arguments 2")
    {
        std::uint16_t port = 0;
        {
            ListeningSocket closed;
            port = closed.port();
        }
        Child refused({WHARF_ECHO_CLIENT_EXECUTABLE, "ws://127.0.0.1:" + std::to_string(port) + "/"});
        CHECK(refused.wait() == 1);
        CHECK(refused.err() == "wharf-echo-client: connection to 127.0.0.1:" + std::to_string(port) + " refused\n");
        Child usage({WHARF_ECHO_CLIENT_EXECUTABLE, "ws://127.0.0.1:1/", "--ca", "x.pem", "--insecure"});
        CHECK(usage.wait() == 2);
    }

    TEST_CASE("wharf-chat-cli sends its name and its lines, prints what arrives, and closes with 1000 at EOF")
    {
        // A chat room like the sample's: the first text is the name, later ones go to everyone.
        std::mutex mutex;
        std::set<std::shared_ptr<RecordingListener>> members;
        TestServer server([&](ServletContextHandler& context) {
            context.addWebSocket("/chat", [&](WebSocketServletFactory& f) {
                f.addMapping("/", [&](const UpgradeRequest&, UpgradeResponse&) {
                    auto member = std::make_shared<RecordingListener>();
                    // A raw pointer: the hook lives in the listener, and a shared_ptr to it
                    // would keep the listener alive forever (LeakSanitizer's report).
                    member->onTextHook = [&, self = member.get()](Session& s, std::string_view text) {
                        if (self->snapshot().texts.size() == 1) s.sendText(fmt::format("* {} joined", text));
                        else s.sendText(fmt::format("{}: {}", self->snapshot().texts[0], text));
                    };
                    std::lock_guard lock(mutex);
                    members.insert(member);
                    return member;
                });
            });
        });
        Child chat({WHARF_CHAT_CLI_EXECUTABLE, "ws://127.0.0.1:" + std::to_string(server.port()) + "/chat", "--name",
                    "alice"});
        REQUIRE(chat.waitForOutput("* alice joined\n"));
        chat.write("hello there\n");
        REQUIRE(chat.waitForOutput("alice: hello there\n"));
        chat.closeStdin();
        CHECK(chat.wait() == 0);
        std::lock_guard lock(mutex);
        REQUIRE(members.size() == 1);
        const auto member = *members.begin();
        REQUIRE(member->waitFor([](const auto& e) { return e.closeCount == 1; }));
        CHECK(*member->snapshot().closeStatus == CloseStatus::Normal);
    }

    TEST_CASE("wharf-chat-cli --reconnect comes back after the server sends it away and sends its name again")
    {
        // (The server stopping and starting on the same port is Client.test.cpp's reconnect case.)
        std::atomic<int> joined{0};
        TestServer server([&](ServletContextHandler& context) {
            context.addWebSocket("/chat", [&](WebSocketServletFactory& f) {
                f.addMapping("/", [&](const UpgradeRequest&, UpgradeResponse&) {
                    auto member = std::make_shared<RecordingListener>();
                    member->onTextHook = [&, self = member.get()](Session& session, std::string_view text) {
                        if (self->snapshot().texts.size() != 1) return;
                        const int n = ++joined;
                        session.sendText(fmt::format("* {} joined ({})", text, n));
                        if (n == 1) session.close(CloseStatus::GoingAway, "restarting");
                    };
                    return member;
                });
            });
        });
        Child chat({WHARF_CHAT_CLI_EXECUTABLE, "ws://127.0.0.1:" + std::to_string(server.port()) + "/chat", "--name",
                    "bob", "--reconnect"});
        REQUIRE(chat.waitForOutput("* bob joined (1)\n"));
        REQUIRE(chat.waitForOutput("* bob joined (2)\n", 10s));
        chat.closeStdin();
        CHECK(chat.wait() == 0);
        CHECK(chat.err().find("the server went away (1001 restarting); reconnecting") != std::string::npos);
    }
}

#endif
