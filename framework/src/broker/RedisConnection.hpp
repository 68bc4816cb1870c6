#pragma once
// One connection to Redis over asio, on a strand, speaking RESP2 (hiredis's redisReader
// parses the replies): commands are pipelined and their replies matched in order; a reply
// nobody waits for (pub/sub messages on a subscriber connection) goes to onPush. It
// connects by itself, and again after every failure, with backoff and jitter; a connection
// that receives nothing for a while is probed with PING and dropped when it stays silent.
// Everything here runs on the strand given to it, and so do its callbacks.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

struct redisReader;

namespace wharf::detail {

/// A parsed RESP reply, owned (the strings are copied out of hiredis's tree).
struct RedisReply {
    enum class Type : std::uint8_t { String, Status, Error, Integer, Nil, Array };
    Type type = Type::Nil;
    std::string str;            // String, Status, Error
    long long integer = 0;      // Integer
    std::vector<RedisReply> elements;  // Array

    bool isError() const noexcept { return type == Type::Error; }
};

/// Where Redis is: parsed from redis://[:password@]host[:port][/db].
struct RedisAddress {
    std::string host;
    std::uint16_t port = 6379;
    std::string password;
    int db = 0;
    bool tls = false;  // rediss://
    std::filesystem::path caFile;  // for tls; empty: the system's trust store

    /// Throws std::invalid_argument saying what is wrong with `url`.
    static RedisAddress parse(std::string_view url);
};

/// Appends one command in RESP (an array of bulk strings) to `out`.
void appendRedisCommand(std::string& out, std::initializer_list<std::string_view> args);
void appendRedisCommand(std::string& out, const std::vector<std::string_view>& args);

class RedisConnection : public std::enable_shared_from_this<RedisConnection> {
public:
    using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
    /// The reply to one command; `reply` is null when the connection was lost first (`error`
    /// then says so). An error reply from Redis comes as a reply of Type::Error.
    using ReplyHandler = std::function<void(std::error_code error, RedisReply* reply)>;

    struct Timing {
        std::chrono::milliseconds pingInterval{1000};
        std::chrono::milliseconds reconnectMin{100};
        std::chrono::milliseconds reconnectMax{5000};
    };
    struct Events {
        std::function<void()> up;                      // connected (and authenticated)
        std::function<void(const std::string& why)> down;  // lost: every pending handler has been told
        std::function<void(RedisReply& reply)> push;   // a reply no command waits for
    };
    /// A subscriber connection: once set up, every reply goes to Events::push (RESP2 sends
    /// SUBSCRIBE's confirmations and the messages alike, unasked), and PINGs too.
    enum class Mode : std::uint8_t { Commands, Subscriber };

    RedisConnection(Strand strand, RedisAddress address, Timing timing, Mode mode, std::string name, Events events);
    ~RedisConnection();

    /// Connects, and reconnects after every failure until stop(). On the strand.
    void start();
    /// Closes for good; pending handlers get the error. On the strand.
    void stop();
    bool isUp() const noexcept { return state_ == State::Up; }

    /// Queues a command (written with the others of this loop turn); `done` gets its reply.
    /// Only while up: otherwise `done` runs at once with an error.
    void send(std::initializer_list<std::string_view> args, ReplyHandler done);
    void send(const std::vector<std::string_view>& args, ReplyHandler done);
    /// A command whose replies come as pushes (SUBSCRIBE and UNSUBSCRIBE on a subscriber
    /// connection). Ignored unless up.
    void sendUnanswered(const std::vector<std::string_view>& args);

    /// Drops the connection (it then reconnects): for a caller that gave up waiting.
    void fail(const std::string& why);

private:
    enum class State : std::uint8_t { Idle, Connecting, SettingUp, Up, Stopped };

    void connect();
    void setUp();
    void scheduleReconnect();
    void read();
    void onBytes(std::size_t n);
    void flush();
    void probe();
    void handshake();
    template <class Handler>
    void readSome(Handler&& handler);
    template <class Handler>
    void writeAll(Handler&& handler);
    void queue(std::string_view command, ReplyHandler done);

    Strand strand_;
    RedisAddress address_;
    Timing timing_;
    Mode mode_;
    std::string name_;
    Events events_;

    State state_ = State::Idle;
    std::uint64_t generation_ = 0;  // of the current socket: stale completions see another
    boost::asio::ip::tcp::resolver resolver_;
    boost::asio::ip::tcp::socket socket_;
    std::unique_ptr<boost::asio::ssl::context> tlsContext_;  // rediss://
    std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;  // one per connection
    boost::asio::steady_timer timer_;  // connect timeout, reconnect delay
    boost::asio::steady_timer probeTimer_;
    redisReader* reader_ = nullptr;
    std::vector<char> in_;
    std::string out_;      // queued, not written yet
    std::string writing_;  // being written
    bool writeBusy_ = false;
    std::deque<ReplyHandler> waiting_;  // in the order the commands went out
    bool received_ = false;       // something arrived since the last probe
    bool pinged_ = false;         // the last probe sent a PING
    unsigned attempts_ = 0;       // failed connects since the last success
    std::minstd_rand random_;
};

}  // namespace wharf::detail
