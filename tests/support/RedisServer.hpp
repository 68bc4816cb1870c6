#pragma once
// A real redis-server (Debian's) for the broker and cluster tests: on a free loopback
// port, in a directory of its own, killed and restarted on demand (SIGKILL, as a crash).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace wharf::test {

class ChildProcess;

class RedisServer {
public:
    enum class Persistence {
        None,               ///< nothing on disk: a restart loses everything
        AppendFsyncAlways,  ///< AOF, fsync before each reply: a restart loses nothing acknowledged
    };
    /// Starts redis-server on a free 127.0.0.1 port; returns once it answers PING. Throws
    /// std::runtime_error (saying to install redis-server) when it cannot be started.
    explicit RedisServer(Persistence persistence = Persistence::None);
    /// With `tls`, it also listens for TLS (certificate: TlsTestCerts's, for 127.0.0.1) and
    /// url() names that port: rediss://127.0.0.1:TLSPORT. command() uses the plain port.
    RedisServer(Persistence persistence, bool tls);
    ~RedisServer();  ///< kills it and removes its directory
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    std::string url() const;  ///< "redis://127.0.0.1:PORT" (or the rediss:// one)
    /// SIGKILL, and waits until it is gone.
    void kill();
    /// Starts it again on the same port and directory (after kill()); returns once it answers.
    void restart();
    /// Runs one command on a fresh connection; the reply as text (arrays joined with '\n',
    /// errors as "ERR ...", nil as "(nil)"). Throws when Redis cannot be reached.
    std::string command(const std::vector<std::string>& args);

private:
    void launch();

    Persistence persistence_;
    std::uint16_t port_ = 0;
    std::uint16_t tlsPort_ = 0;  // 0: no TLS
    std::string dir_;
    std::unique_ptr<ChildProcess> process_;
};

}  // namespace wharf::test
