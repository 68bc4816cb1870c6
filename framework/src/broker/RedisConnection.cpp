#include "broker/RedisConnection.hpp"

#include "detail/CloseOnExec.hpp"

#include <wharf/Error.hpp>
#include <wharf/Log.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/write.hpp>

#include <hiredis/hiredis.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace wharf::detail {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

RedisReply convert(const redisReply& r)
{
    RedisReply out;
    switch (r.type) {
        case REDIS_REPLY_STRING: out.type = RedisReply::Type::String; break;
        case REDIS_REPLY_STATUS: out.type = RedisReply::Type::Status; break;
        case REDIS_REPLY_ERROR: out.type = RedisReply::Type::Error; break;
        case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::Integer; break;
        case REDIS_REPLY_ARRAY: out.type = RedisReply::Type::Array; break;
        default: out.type = RedisReply::Type::Nil; break;
    }
    if (r.type == REDIS_REPLY_STRING || r.type == REDIS_REPLY_STATUS || r.type == REDIS_REPLY_ERROR)
        out.str.assign(r.str, r.len);
    out.integer = r.integer;
    if (r.type == REDIS_REPLY_ARRAY) {
        out.elements.reserve(r.elements);
        for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(convert(*r.element[i]));
    }
    return out;
}

void appendBulk(std::string& out, std::string_view arg)
{
    out += '$';
    out += std::to_string(arg.size());
    out += "\r\n";
    out += arg;
    out += "\r\n";
}

}  // namespace

RedisAddress RedisAddress::parse(std::string_view url)
{
    RedisAddress a;
    std::string_view rest;
    if (url.substr(0, 8) == "redis://") {
        rest = url.substr(8);
    } else if (url.substr(0, 9) == "rediss://") {
        rest = url.substr(9);
        a.tls = true;
    } else {
        throw std::invalid_argument(fmt::format("Redis URL '{}' does not start with redis:// or rediss://", url));
    }
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        std::string_view userInfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        // ":password" or "user:password" (Redis 6 ACL users are not supported: AUTH password only)
        const auto colon = userInfo.find(':');
        a.password = std::string(colon == std::string_view::npos ? userInfo : userInfo.substr(colon + 1));
    }
    std::string_view hostPort = rest;
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
        hostPort = rest.substr(0, slash);
        const std::string_view db = rest.substr(slash + 1);
        if (!db.empty()) {
            const auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), a.db);
            if (ec != std::errc() || p != db.data() + db.size() || a.db < 0)
                throw std::invalid_argument(fmt::format("Redis URL '{}': the database '{}' is not a number", url, db));
        }
    }
    std::string_view portText;
    if (!hostPort.empty() && hostPort.front() == '[') {  // [::1]:6379
        const auto close = hostPort.find(']');
        if (close == std::string_view::npos) throw std::invalid_argument(fmt::format("Redis URL '{}': unclosed '['", url));
        a.host = std::string(hostPort.substr(1, close - 1));
        if (close + 1 < hostPort.size()) {
            if (hostPort[close + 1] != ':') throw std::invalid_argument(fmt::format("Redis URL '{}': bad port", url));
            portText = hostPort.substr(close + 2);
        }
    } else if (const auto colon = hostPort.rfind(':'); colon != std::string_view::npos) {
        a.host = std::string(hostPort.substr(0, colon));
        portText = hostPort.substr(colon + 1);
    } else {
        a.host = std::string(hostPort);
    }
    if (a.host.empty()) throw std::invalid_argument(fmt::format("Redis URL '{}' names no host", url));
    if (!portText.empty()) {
        unsigned port = 0;
        const auto [p, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
        if (ec != std::errc() || p != portText.data() + portText.size() || port == 0 || port > 65535)
            throw std::invalid_argument(fmt::format("Redis URL '{}': the port '{}' is not 1-65535", url, portText));
        a.port = static_cast<std::uint16_t>(port);
    }
    return a;
}

namespace {

template <class Args>
void appendCommand(std::string& out, const Args& args)
{
    out += '*';
    out += std::to_string(args.size());
    out += "\r\n";
    for (auto a : args) appendBulk(out, a);
}

}  // namespace

void appendRedisCommand(std::string& out, std::initializer_list<std::string_view> args) { appendCommand(out, args); }
void appendRedisCommand(std::string& out, const std::vector<std::string_view>& args) { appendCommand(out, args); }

RedisConnection::RedisConnection(Strand strand, RedisAddress address, Timing timing, Mode mode, std::string name,
                                 Events events)
    : strand_(strand), address_(std::move(address)), timing_(timing), mode_(mode), name_(std::move(name)),
      events_(std::move(events)), resolver_(strand), socket_(strand), timer_(strand), probeTimer_(strand),
      in_(64 * 1024), random_(std::random_device{}())
{
    if (!address_.tls) return;
    namespace ssl = net::ssl;
    tlsContext_ = std::make_unique<ssl::context>(ssl::context::tls_client);
    tlsContext_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                             ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    tlsContext_->set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    if (address_.caFile.empty()) tlsContext_->set_default_verify_paths(ec);
    else tlsContext_->load_verify_file(address_.caFile.string(), ec);
    if (ec)
        throw std::invalid_argument(fmt::format("Redis TLS: cannot load the CA file '{}': {}", address_.caFile.string(),
                                                ec.message()));
}

RedisConnection::~RedisConnection()
{
    if (reader_) redisReaderFree(reader_);
}

void RedisConnection::start()
{
    if (state_ != State::Idle) return;
    connect();
    probe();
}

void RedisConnection::stop()
{
    if (state_ == State::Stopped) return;
    const bool wasUp = state_ == State::Up;
    state_ = State::Stopped;
    ++generation_;
    boost::system::error_code ec;
    resolver_.cancel();
    socket_.close(ec);
    timer_.cancel();
    probeTimer_.cancel();
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& h : waiting)
        if (h) h(make_error_code(Errc::ServerStopping), nullptr);
    if (wasUp && events_.down) events_.down("stopped");
}

void RedisConnection::connect()
{
    state_ = State::Connecting;
    const auto generation = ++generation_;
    tls_.reset();  // (the socket was closed; a new TLS session per connection)
    if (reader_) redisReaderFree(reader_);
    reader_ = redisReaderCreate();
    out_.clear();
    writing_.clear();
    writeBusy_ = false;
    received_ = pinged_ = false;
    // A connect (resolve, TCP, AUTH, SELECT) that takes longer than a few probe intervals
    // counts as failed.
    timer_.expires_after(std::max(timing_.pingInterval * 3, std::chrono::milliseconds(1000)));
    timer_.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
        if (ec || generation != self->generation_ || self->state_ == State::Up) return;
        self->fail("connect timed out");
    });
    resolver_.async_resolve(address_.host, std::to_string(address_.port),
        [self = shared_from_this(), generation](boost::system::error_code ec, tcp::resolver::results_type results) {
            if (generation != self->generation_) return;
            if (ec) return self->fail("cannot resolve " + self->address_.host + ": " + ec.message());
            net::async_connect(self->socket_, results,
                [self, generation](boost::system::error_code ec, const tcp::endpoint&) {
                    if (generation != self->generation_) return;
                    if (ec) return self->fail(ec.message());
                    setCloseOnExec(self->socket_.native_handle());
                    boost::system::error_code ignored;
                    self->socket_.set_option(tcp::no_delay(true), ignored);
                    if (self->tlsContext_) self->handshake();
                    else self->setUp();
                });
        });
}

void RedisConnection::handshake()
{
    tls_.emplace(socket_, *tlsContext_);
    // SNI, and the certificate must name the host (an IP address is checked as one).
    SSL_set_tlsext_host_name(tls_->native_handle(), address_.host.c_str());
    tls_->set_verify_callback(net::ssl::host_name_verification(address_.host));
    tls_->async_handshake(net::ssl::stream_base::client,
        [self = shared_from_this(), generation = generation_](boost::system::error_code ec) {
            if (generation != self->generation_) return;
            if (ec) return self->fail("TLS handshake failed: " + ec.message());
            self->setUp();
        });
}

template <class Handler>
void RedisConnection::readSome(Handler&& handler)
{
    if (tls_) tls_->async_read_some(net::buffer(in_), std::forward<Handler>(handler));
    else socket_.async_read_some(net::buffer(in_), std::forward<Handler>(handler));
}

template <class Handler>
void RedisConnection::writeAll(Handler&& handler)
{
    if (tls_) net::async_write(*tls_, net::buffer(writing_), std::forward<Handler>(handler));
    else net::async_write(socket_, net::buffer(writing_), std::forward<Handler>(handler));
}

void RedisConnection::setUp()
{
    state_ = State::SettingUp;
    read();
    // AUTH and SELECT, pipelined; the last reply makes the connection Up.
    std::vector<std::vector<std::string>> commands;
    if (!address_.password.empty()) commands.push_back({"AUTH", address_.password});
    if (address_.db != 0) commands.push_back({"SELECT", std::to_string(address_.db)});
    commands.push_back({"PING"});
    for (std::size_t i = 0; i < commands.size(); ++i) {
        std::vector<std::string_view> args(commands[i].begin(), commands[i].end());
        std::string command;
        appendRedisCommand(command, args);
        const bool last = i + 1 == commands.size();
        queue(command, [self = shared_from_this(), last, what = commands[i][0]](std::error_code ec, RedisReply* reply) {
            if (ec || self->state_ != State::SettingUp) return;
            if (reply->isError()) return self->fail(what + " failed: " + reply->str);
            if (!last) return;
            self->state_ = State::Up;
            self->attempts_ = 0;
            self->timer_.cancel();
            log::info("redis {}: connected to {}:{}", self->name_, self->address_.host, self->address_.port);
            if (self->events_.up) self->events_.up();
        });
    }
}

void RedisConnection::fail(const std::string& why)
{
    if (state_ == State::Stopped || state_ == State::Idle) return;
    const bool wasUp = state_ == State::Up;
    ++generation_;
    boost::system::error_code ec;
    resolver_.cancel();
    socket_.close(ec);
    state_ = State::Idle;
    if (wasUp) log::warn("redis {}: connection to {}:{} lost: {}", name_, address_.host, address_.port, why);
    else if (attempts_ == 0) log::warn("redis {}: cannot connect to {}:{}: {}", name_, address_.host, address_.port, why);
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& h : waiting)
        if (h) h(make_error_code(Errc::BrokerUnavailable), nullptr);
    if (wasUp && events_.down) events_.down(why);
    if (state_ == State::Idle) scheduleReconnect();  // (down may have stopped us)
}

void RedisConnection::scheduleReconnect()
{
    // min * 2^attempts, capped, times a random 50-100 %: nodes that lost Redis together do
    // not all come back in the same millisecond.
    const auto base = std::min<std::int64_t>(timing_.reconnectMax.count(),
                                             timing_.reconnectMin.count() << std::min(attempts_, 20u));
    ++attempts_;
    const auto delay = std::chrono::milliseconds(
        base / 2 + static_cast<std::int64_t>(random_() % static_cast<std::uint64_t>(base / 2 + 1)));
    const auto generation = generation_;
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
        if (ec || generation != self->generation_ || self->state_ != State::Idle) return;
        self->connect();
    });
}

void RedisConnection::read()
{
    readSome(
        [self = shared_from_this(), generation = generation_](boost::system::error_code ec, std::size_t n) {
            if (generation != self->generation_) return;
            if (ec) return self->fail(ec == net::error::eof ? std::string("closed by Redis") : ec.message());
            self->onBytes(n);
            if (generation == self->generation_) self->read();
        });
}

void RedisConnection::onBytes(std::size_t n)
{
    received_ = true;
    pinged_ = false;
    if (redisReaderFeed(reader_, in_.data(), n) != REDIS_OK) return fail("cannot parse Redis's reply");
    const auto generation = generation_;
    for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(reader_, &raw) != REDIS_OK) return fail("cannot parse Redis's reply");
        if (!raw) return;
        RedisReply reply = convert(*static_cast<redisReply*>(raw));
        freeReplyObject(raw);
        if (!waiting_.empty() && (mode_ == Mode::Commands || state_ == State::SettingUp)) {
            auto handler = std::move(waiting_.front());
            waiting_.pop_front();
            if (handler) handler({}, &reply);
        } else if (events_.push) {
            events_.push(reply);
        }
        if (generation != generation_) return;  // a handler dropped or stopped the connection
    }
}

void RedisConnection::queue(std::string_view command, ReplyHandler done)
{
    out_ += command;
    waiting_.push_back(std::move(done));
    flush();
}

void RedisConnection::send(std::initializer_list<std::string_view> args, ReplyHandler done)
{
    send(std::vector<std::string_view>(args), std::move(done));
}

void RedisConnection::send(const std::vector<std::string_view>& args, ReplyHandler done)
{
    if (state_ != State::Up) {
        if (done) done(make_error_code(Errc::BrokerUnavailable), nullptr);
        return;
    }
    waiting_.push_back(std::move(done));
    appendRedisCommand(out_, args);
    flush();
}

void RedisConnection::sendUnanswered(const std::vector<std::string_view>& args)
{
    if (state_ != State::Up) return;
    appendRedisCommand(out_, args);
    flush();
}

void RedisConnection::flush()
{
    // Everything queued in this loop turn goes out in one write: posted, so that the
    // commands queued after this one in the same turn join it.
    if (writeBusy_ || out_.empty()) return;
    writeBusy_ = true;
    net::post(strand_, [self = shared_from_this(), generation = generation_] {
        if (generation != self->generation_) return;
        self->writing_.swap(self->out_);
        self->out_.clear();
        self->writeAll(
            [self, generation](boost::system::error_code ec, std::size_t) {
                if (generation != self->generation_) return;
                self->writeBusy_ = false;
                if (ec) return self->fail(ec.message());
                self->writing_.clear();
                self->flush();
            });
    });
}

void RedisConnection::probe()
{
    probeTimer_.expires_after(timing_.pingInterval);
    probeTimer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec || self->state_ == State::Stopped) return;
        if (self->state_ == State::Up) {
            if (self->pinged_) {
                self->fail(fmt::format("no answer to PING within {} ms", self->timing_.pingInterval.count()));
            } else if (!self->received_) {
                self->pinged_ = true;
                if (self->mode_ == Mode::Subscriber) self->sendUnanswered({"PING"});
                else self->send({"PING"}, {});
            }
            self->received_ = false;
        }
        self->probe();
    });
}

}  // namespace wharf::detail
