#include "support/RedisServer.hpp"

#include "support/ChildProcess.hpp"
#include "support/LoopbackPort.hpp"
#include "support/TlsTestCerts.hpp"

#include <hiredis/hiredis.h>

#include <chrono>
#include <filesystem>
#include <signal.h>
#include <stdexcept>
#include <thread>

#ifndef WHARF_REDIS_SERVER
#define WHARF_REDIS_SERVER "/usr/bin/redis-server"
#endif

namespace wharf::test {

namespace {

std::string text(const redisReply& r)
{
    switch (r.type) {
        case REDIS_REPLY_INTEGER: return std::to_string(r.integer);
        case REDIS_REPLY_NIL: return "(nil)";
        case REDIS_REPLY_ARRAY: {
            std::string out;
            for (std::size_t i = 0; i < r.elements; ++i) {
                if (i) out += '\n';
                out += text(*r.element[i]);
            }
            return out;
        }
        default: return std::string(r.str, r.len);
    }
}

}  // namespace

RedisServer::RedisServer(Persistence persistence) : RedisServer(persistence, false) {}

RedisServer::RedisServer(Persistence persistence, bool tls) : persistence_(persistence)
{
    if (!std::filesystem::exists(WHARF_REDIS_SERVER))
        throw std::runtime_error(std::string(WHARF_REDIS_SERVER) +
                                 " not found: install redis-server (scripts/install-deps.sh --tests)");
    char pattern[] = "/tmp/wharf-redis-XXXXXX";
    if (!mkdtemp(pattern)) throw std::runtime_error("RedisServer: mkdtemp failed");
    dir_ = pattern;
    port_ = freeLoopbackPort();
    if (tls) tlsPort_ = freeLoopbackPort();
    launch();
}

RedisServer::~RedisServer()
{
    try {
        kill();
    } catch (...) {
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string RedisServer::url() const
{
    return tlsPort_ ? "rediss://127.0.0.1:" + std::to_string(tlsPort_) : "redis://127.0.0.1:" + std::to_string(port_);
}

void RedisServer::launch()
{
    std::vector<std::string> args{"--port", std::to_string(port_), "--bind", "127.0.0.1", "--dir", dir_,
                                  "--save", "", "--daemonize", "no", "--protected-mode", "no",
                                  "--loglevel", "warning", "--logfile", ""};
    if (tlsPort_) {
        const auto& certs = TlsTestCerts::get();
        args.insert(args.end(), {"--tls-port", std::to_string(tlsPort_), "--tls-cert-file", certs.chain.string(),
                                 "--tls-key-file", certs.key.string(), "--tls-ca-cert-file",
                                 certs.caCertificate.string(), "--tls-auth-clients", "no"});
    }
    if (persistence_ == Persistence::AppendFsyncAlways) {
        args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "always"});
    } else {
        args.insert(args.end(), {"--appendonly", "no"});
    }
    process_ = std::make_unique<ChildProcess>(WHARF_REDIS_SERVER, args);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
        try {
            if (command({"PING"}) == "PONG") return;
        } catch (const std::exception&) {
        }
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("redis-server did not answer on port " + std::to_string(port_) + "; its output:\n" +
                                     process_->output());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void RedisServer::kill()
{
    if (!process_) return;
    process_->signal(SIGKILL);
    process_->waitForExit(std::chrono::seconds(10));
    process_.reset();
}

void RedisServer::restart()
{
    kill();
    launch();
}

std::string RedisServer::command(const std::vector<std::string>& args)
{
    const timeval timeout{2, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeout);
    if (!c || c->err) {
        const std::string why = c ? c->errstr : "out of memory";
        if (c) redisFree(c);
        throw std::runtime_error("cannot connect to redis on port " + std::to_string(port_) + ": " + why);
    }
    redisSetTimeout(c, timeout);
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& a : args) {
        argv.push_back(a.data());
        lengths.push_back(a.size());
    }
    auto* reply = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lengths.data()));
    if (!reply) {
        const std::string why = c->errstr;
        redisFree(c);
        throw std::runtime_error("redis command failed: " + why);
    }
    std::string out = text(*reply);
    freeReplyObject(reply);
    redisFree(c);
    return out;
}

}  // namespace wharf::test
