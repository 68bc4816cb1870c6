// The echo sample as built (wharf-echo) and the signals an operator sends it
// (Server::setStopAtShutdown, setReloadCertificatesOnSighup; docs/operations.md): SIGHUP
// reloads the certificates, SIGTERM stops gracefully (sessions get 1001), and a second
// SIGTERM ends a stop that waits for a peer that never answers.
// Built only with the samples (WHARF_ECHO_EXECUTABLE names the binary).

#include "support/ChildProcess.hpp"
#include "support/RawClient.hpp"
#include "support/TlsClient.hpp"
#include "support/TlsTestCerts.hpp"

#include <doctest/doctest.h>

#ifdef WHARF_ECHO_EXECUTABLE

#include <chrono>
#include <csignal>
#include <regex>
#include <string>

#include <sys/wait.h>

using namespace wharf::test;
using namespace std::chrono_literals;

namespace {

/// wharf-echo on loopback ports picked at start, with `extraArgs`; `port` reads the one
/// its "echoing at <scheme>://" line names.
class EchoProcess {
public:
    explicit EchoProcess(const std::vector<std::string>& extraArgs)
        : process_(WHARF_ECHO_EXECUTABLE, withDefaults(extraArgs), {"WHARF_LOG=info"})
    {
    }
    ChildProcess& process() { return process_; }
    std::uint16_t port(const std::string& scheme)
    {
        const auto line = process_.waitForOutput(std::regex("echoing at " + scheme + R"(://\S+:(\d+)/echo)"));
        REQUIRE(line);
        return static_cast<std::uint16_t>(std::stoi(line->at(1)));
    }

private:
    static std::vector<std::string> withDefaults(const std::vector<std::string>& extraArgs)
    {
        std::vector<std::string> args{"--host", "127.0.0.1", "--port", "0", "--threads", "2"};
        args.insert(args.end(), extraArgs.begin(), extraArgs.end());
        return args;
    }

    ChildProcess process_;
};

/// A session on the plain port, open.
RawClient openSession(std::uint16_t port)
{
    RawClient client(port);
    REQUIRE(client.handshake("/echo/").status == 101);
    return client;
}

bool exitedCleanly(const std::optional<int>& status) { return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0; }

}  // namespace

TEST_SUITE("samples")
{
    TEST_CASE("wharf-echo: SIGHUP reloads the certificates; SIGTERM closes sessions with 1001 and exits")
    {
        const auto& certs = TlsTestCerts::get();
        const auto files = certs.issue("echo-signals", "before", {"localhost"});
        EchoProcess echo({"--tls-cert", files.certificateChainFile.string(), "--tls-key",
                          files.privateKeyFile.string(), "--tls-port", "0"});
        const auto plain = echo.port("ws");
        const auto secure = echo.port("wss");
        auto served = [&] { return TlsClient(secure, certs.caCertificate).peerCommonName(); };
        CHECK(served() == "before");

        certs.issue("echo-signals", "after", {"localhost"});
        echo.process().signal(SIGHUP);
        CHECK(echo.process().waitForOutput(std::regex(R"(1 certificate\(s\) reloaded)")));
        CHECK(served() == "after");

        auto session = openSession(plain);
        echo.process().signal(SIGTERM);
        const auto close = session.readUntilClose(10s);
        REQUIRE(close);
        CHECK(close->closeCode() == 1001);
        session.sendClose(1001);
        CHECK(exitedCleanly(echo.process().waitForExit(10s)));
        CHECK(echo.process().output().find("wharf-echo: stopped") != std::string::npos);
    }

    TEST_CASE("wharf-echo: a second SIGTERM ends the wait for a session that never answers the close")
    {
        EchoProcess echo({});
        auto session = openSession(echo.port("ws"));
        echo.process().signal(SIGTERM);
        const auto close = session.readUntilClose(10s);
        REQUIRE(close);
        CHECK(close->closeCode() == 1001);
        // The session does not answer: the stop would wait the stop timeout (5 s) for it.
        const auto second = std::chrono::steady_clock::now();
        echo.process().signal(SIGTERM);
        CHECK(exitedCleanly(echo.process().waitForExit(10s)));
        CHECK(std::chrono::steady_clock::now() - second < 3s);
        CHECK(echo.process().output().find("SIGTERM again: closing the remaining connections now") !=
              std::string::npos);
    }
}

#endif
