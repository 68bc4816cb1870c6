// wharf-bench: a WebSocket load generator for loopback servers (issue 5).
//
// One thread, one io_context, no Beast stream on the hot path: frames are built straight
// into a per-connection write buffer by the client role of wharf's protocol core
// (FrameWriter: a fresh unpredictable mask key per frame, RFC 6455 5.3, and the payload
// masked while it is copied); everything produced while handling one read goes out in one
// write. Echoes are checked byte for byte against what was sent.
//
//   wharf-bench --mode echo|latency|handshake|idle|fanout|alltoall [--host 127.0.0.1] [--port 9001]
//               [--path /echo] [--conns 100] [--inflight 16] [--size 16] [--binary]
//               [--duration 3] [--warmup 0.5] [--server-pid PID] [--pid PID] [--label NAME]
//               [--tls [--ca FILE] [--sni localhost]] [--port2 PORT] [--rate N]
//
// --tls makes every connection TLS (wss://): TCP connect, TLS handshake (SNI --sni,
// default "localhost"), then the upgrade; handshake mode then measures connect + TLS
// handshake + upgrade + close. Without --ca the server certificate is not verified (a
// benchmark on loopback); with --ca it must chain to FILE and name --sni. Every
// connection does a full handshake (no session resumption). The output then carries
// tls=1 and the negotiated protocol, cipher and key-exchange group.
//
// Prints one line per run, key=value separated by spaces, e.g.
//   mode=echo label=wharf conns=100 inflight=16 size=16 type=text duration_s=3.000
//   msgs=... msgs_per_s=... mb_per_s=... errors=0 server_cpu_s=... client_cpu_s=...
// msgs counts echoes received in the measured window (after the warm-up); mb_per_s is
// echoed payload bytes per second (10^6 bytes), one direction.
//
// fanout (against wharf-chat; --path defaults to /chat): --conns receivers (default 1000) each send a
// unique name ("r17") and wait for their own "* r17 joined" notice; then one more
// connection, the sender, names itself "sender" and sends text messages "<seq> <padding>"
// (--size bytes, default 16) with at most --inflight (default 4) broadcasts outstanding. A
// broadcast is complete when the sender receives its own "sender: <payload>". Receivers
// count deliveries (frames starting "sender: "), ignore "* " notices and check every
// payload against the expected sequence number; a wrong one is an error. Output:
//   mode=fanout conns=1000 inflight=4 size=16 duration_s=... broadcasts=... broadcasts_per_s=...
//   deliveries=... deliveries_per_s=... errors=0 server_cpu_s=... client_cpu_s=...
// With --port2 (a cluster of two chat nodes, docs/scaling.md) every second receiver
// connects to that port instead; the sender stays on --port. With --rate N the sender sends
// N broadcasts per second on a clock instead of keeping --inflight outstanding, and every
// delivery's publish-to-receive time is measured: the line adds rate=N p50_us= p99_us=
// p999_us=.
//
// alltoall (the shape of uWebSockets' broadcast test; --path defaults to /chat): --conns
// connections (default 320) each join with a unique name ("c17") and wait for their own
// "* c17 joined"; once all have, every connection sends "<seq> <padding>" messages (--size
// bytes) with at most --inflight (default 1) of its own outstanding. The chat sends each to
// every member, the sender included, so a message is complete when its sender receives its
// own "c17: <payload>". Every "NAME: ..." frame any connection receives is a delivery; each
// receiver checks that every sender's sequence numbers arrive complete and in order (a gap,
// a repeat or a wrong payload is an error). Output:
//   mode=alltoall conns=320 inflight=1 size=16 duration_s=... messages=... messages_per_s=...
//   deliveries=... deliveries_per_s=... errors=0 server_cpu_s=... client_cpu_s=...
//
// Only loopback hosts are accepted. Every mode stops by itself.

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>

#include "protocol/FrameWriter.hpp"  // wharf's private header (bench/CMakeLists.txt)

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include <openssl/objects.h>
#include <openssl/ssl.h>

#include <sys/resource.h>
#include <unistd.h>

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// ---------------------------------------------------------------------------------------
// Options

struct Options {
    std::string mode = "echo";
    std::string host = "127.0.0.1";
    int port = 9001;
    std::string path = "/echo";  // fanout, alltoall: "/chat" unless --path is given
    bool pathGiven = false;
    int conns = -1;     // mode default
    int inflight = -1;  // mode default
    std::size_t size = 16;
    bool binary = false;
    double duration = 3.0;
    double warmup = 0.5;
    long serverPid = 0;
    long idlePid = 0;
    std::string label;
    int connectConcurrency = 200;  // handshakes in progress at once (idle, setup)
    bool tls = false;
    std::string ca;             // --ca: verify the server against this PEM file
    std::string sni = "localhost";
    int port2 = 0;      // fanout: every second receiver connects here (another node)
    double rate = 0;    // fanout: broadcasts per second on a clock (0: --inflight outstanding)
};

[[noreturn]] void usage(const char* why)
{
    std::fprintf(stderr,
                 "wharf-bench: %s\n"
                 "usage: wharf-bench --mode echo|latency|handshake|idle|fanout|alltoall [--host 127.0.0.1] [--port 9001]\n"
                 "                   [--path /echo] [--conns N] [--inflight K] [--size BYTES] [--binary]\n"
                 "                   [--duration SECONDS] [--warmup SECONDS] [--server-pid PID]\n"
                 "                   [--pid PID (idle: server whose VmRSS is read)] [--label NAME]\n"
                 "                   [--tls [--ca FILE] [--sni NAME (default localhost)]]\n"
                 "                   [--port2 PORT (fanout: half the receivers)] [--rate N (fanout: broadcasts/s)]\n",
                 why);
    std::exit(2);
}

Options parse(int argc, char** argv)
{
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value for " + std::string(a)).c_str());
            return argv[++i];
        };
        try {
            if (a == "--mode") o.mode = value();
            else if (a == "--host") o.host = value();
            else if (a == "--port") o.port = std::stoi(value());
            else if (a == "--path") o.path = value(), o.pathGiven = true;
            else if (a == "--conns") o.conns = std::stoi(value());
            else if (a == "--inflight") o.inflight = std::stoi(value());
            else if (a == "--size") o.size = std::stoul(value());
            else if (a == "--binary") o.binary = true;
            else if (a == "--text") o.binary = false;
            else if (a == "--duration") o.duration = std::stod(value());
            else if (a == "--warmup") o.warmup = std::stod(value());
            else if (a == "--server-pid") o.serverPid = std::stol(value());
            else if (a == "--pid") o.idlePid = std::stol(value());
            else if (a == "--label") o.label = value();
            else if (a == "--connect-concurrency") o.connectConcurrency = std::stoi(value());
            else if (a == "--tls") o.tls = true;
            else if (a == "--ca") o.ca = value();
            else if (a == "--sni") o.sni = value();
            else if (a == "--port2") o.port2 = std::stoi(value());
            else if (a == "--rate") o.rate = std::stod(value());
            else if (a == "-h" || a == "--help") usage("help");
            else usage(("unknown option " + std::string(a)).c_str());
        } catch (const std::logic_error&) {
            usage(("bad value for " + std::string(a)).c_str());
        }
    }
    if (o.mode == "latency") {
        if (o.conns < 0) o.conns = 1;
        if (o.inflight < 0) o.inflight = 1;
    } else if (o.mode == "handshake") {
        if (o.conns < 0) o.conns = 8;  // concurrent handshake loops
        o.inflight = 0;
    } else if (o.mode == "idle") {
        if (o.conns < 0) o.conns = 1000;
        o.inflight = 0;
        if (o.idlePid <= 0 && o.serverPid > 0) o.idlePid = o.serverPid;
        if (o.idlePid <= 0) usage("idle mode needs --pid (the server's PID)");
    } else if (o.mode == "echo") {
        if (o.conns < 0) o.conns = 100;
        if (o.inflight < 0) o.inflight = 16;
    } else if (o.mode == "fanout" || o.mode == "alltoall") {
        const bool fanout = o.mode == "fanout";
        if (o.conns < 0) o.conns = fanout ? 1000 : 320;
        if (o.inflight < 0) o.inflight = fanout ? 4 : 1;
        if (o.binary) usage("fanout and alltoall are text only (wharf-chat takes text)");
        if (!o.pathGiven) o.path = "/chat";
    } else {
        usage(("unknown mode " + o.mode).c_str());
    }
    if (o.conns < 1 || (o.mode != "handshake" && o.mode != "idle" && o.inflight < 1)) usage("conns/inflight must be >= 1");
    if (o.size > (std::size_t(1) << 30)) usage("size too large");
    if (o.duration <= 0 || o.duration > 600) usage("duration must be in (0, 600] seconds");
    if (o.warmup < 0 || o.warmup > 60) usage("warmup must be in [0, 60] seconds");
    if (o.port < 1 || o.port > 65535) usage("port must be 1..65535");
    if (!o.ca.empty() && !o.tls) usage("--ca needs --tls");
    if ((o.port2 != 0 || o.rate != 0) && o.mode != "fanout") usage("--port2 and --rate are for fanout");
    if (o.port2 < 0 || o.port2 > 65535) usage("port2 must be 1..65535");
    if (o.rate < 0 || o.rate > 1e6) usage("rate must be in [0, 1000000] broadcasts per second");
    return o;
}

// ---------------------------------------------------------------------------------------
// /proc helpers

double procCpuSeconds(long pid)
{
    if (pid <= 0) return -1;
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) return -1;
    const auto close = line.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream rest(line.substr(close + 2));
    // Fields after the command: 3 state ... 14 utime 15 stime.
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int n = 3; n <= 15 && rest >> field; ++n) {
        if (n == 14) utime = std::stoull(field);
        if (n == 15) stime = std::stoull(field);
    }
    return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

long procRssKiB(long pid)
{
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

double selfCpuSeconds()
{
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---------------------------------------------------------------------------------------
// Framing helpers

/// Appends one masked FIN frame.
void appendMaskedFrame(std::vector<char>& out, std::uint8_t opcode, const char* payload, std::size_t n)
{
    static const wharf::detail::FrameWriter writer(wharf::detail::Role::Client);
    const std::size_t at = out.size();
    out.resize(at + writer.headerSize(n) + n);
    writer.writeFrame(out.data() + at, static_cast<wharf::detail::Opcode>(opcode), std::string_view(payload, n));
}

bool isLoopback(const std::string& host, net::io_context& ioc, tcp::endpoint& out)
{
    boost::system::error_code ec;
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(host, "0", ec);
    if (ec) return false;
    bool any = false;
    for (const auto& r : results) {
        const auto addr = r.endpoint().address();
        if (!addr.is_loopback()) return false;  // every address must be loopback
        if (!any) out = r.endpoint();
        any = true;
    }
    return any;
}

// ---------------------------------------------------------------------------------------
// The run

struct Stats {
    std::uint64_t msgs = 0;
    std::uint64_t bytes = 0;
    std::uint64_t handshakes = 0;
    std::uint64_t errors = 0;
    std::uint64_t broadcasts = 0;  // fanout, alltoall: messages completed (the sender's own echo)
};

class Bench;

/// What Bench needs of a connection; only setup, priming and stop go through it.
class ConnBase {
public:
    virtual ~ConnBase() = default;
    virtual void start() = 0;
    virtual void stop() = 0;
    /// Fills the pipeline: `inflight` messages go out in one write.
    virtual void prime(int inflight) = 0;
};

using TlsStream = ssl::stream<tcp::socket>;

/// One client connection: connect, (TLS handshake,) upgrade, then mode-specific traffic.
/// Stream is tcp::socket or TlsStream; the plain instantiation is the same code as
/// before TLS existed (the TLS parts are `if constexpr`).
template <class Stream>
class Conn final : public ConnBase, public std::enable_shared_from_this<Conn<Stream>> {
public:
    static constexpr bool isTls = !std::is_same_v<Stream, tcp::socket>;

    Conn(Bench& b, int index);
    void start() override;
    void stop() override
    {
        boost::system::error_code ec;
        lowest().close(ec);
    }
    void prime(int inflight) override
    {
        for (int i = 0; i < inflight; ++i) {
            if (fanout_ || alltoall_) sendFanout();
            else sendMessage();
        }
        flush();
    }

private:
    static Stream makeStream(Bench& b);
    tcp::socket& lowest()
    {
        if constexpr (isTls) return socket_.next_layer();
        else return socket_;
    }
    void onConnect(const boost::system::error_code& ec);
    void onTlsHandshake(const boost::system::error_code& ec);
    void sendUpgradeRequest();
    void readHandshake();
    void onHandshakeBytes(std::size_t n);
    void onUpgraded();
    void read();
    void onRead(std::size_t n);
    bool parseFrames();
    void onMessage(std::uint8_t opcode, const char* data, std::size_t n);
    void sendMessage();
    void onFanoutMessage(std::uint8_t opcode, const char* data, std::size_t n);
    void onAllToAllMessage(std::uint8_t opcode, const char* data, std::size_t n);
    void onChatNotice(std::string_view text);
    void sendFanout();
    void sendControl(std::uint8_t opcode, const char* data, std::size_t n);
    void flush();
    void error(const char* what, const boost::system::error_code& ec = {});

    Bench& b_;
    int index_;
    Stream socket_;
    std::vector<char> rbuf_;
    std::size_t rbegin_ = 0, rend_ = 0;
    std::vector<char> wbuf_, pending_;
    bool writing_ = false;
    bool upgraded_ = false;
    bool closing_ = false;  // handshake mode: close frame sent
    std::string key_;
    std::string accept_;
    std::uint64_t sendSeq_ = 0, recvSeq_ = 0;
    std::deque<Clock::time_point> sentAt_;  // latency mode
    std::string fragments_;                 // a message split over several frames
    std::uint8_t fragOpcode_ = 0;
    bool fanout_ = false;        // fanout mode
    bool alltoall_ = false;      // alltoall mode
    bool fanoutSender_ = false;  // fanout: the one connection that sends
    bool fanoutReady_ = false;   // fanout, alltoall: own join notice seen
    std::string fanoutName_;     // fanout, alltoall: the name this connection joins with
    std::vector<std::uint64_t> nextFrom_;  // alltoall: the sequence number expected next from each sender
};

class Bench {
public:
    explicit Bench(Options o) : o_(std::move(o)), ioc_(1), timer_(ioc_)
    {
        // The payload pattern: message seq uses pattern_[seq % 251 ...]. ASCII letters are
        // valid UTF-8, so the same pattern serves text and binary.
        pattern_.resize(o_.size + 256);
        for (std::size_t i = 0; i < pattern_.size(); ++i) pattern_[i] = char('a' + (i * 7 + i / 26) % 26);
        if (o_.binary)
            for (std::size_t i = 0; i < pattern_.size(); ++i) pattern_[i] = char((i * 131 + 17) & 0xFF);
        hostHeader_ = o_.host + ":" + std::to_string(o_.port);
    }

    int run();

    // Called by connections.
    const Options& opt() const { return o_; }
    net::io_context& ioc() { return ioc_; }
    /// Where connection `index` connects: with --port2, every second fanout receiver goes there.
    const tcp::endpoint& endpointFor(int index) const
    {
        return o_.port2 != 0 && index != o_.conns && index % 2 == 1 ? endpoint2_ : endpoint_;
    }
    const std::string& hostHeader() const { return hostHeader_; }
    const char* payloadFor(std::uint64_t seq) const { return pattern_.data() + seq % 251; }
    bool sending() const { return phase_ == Phase::Warmup || phase_ == Phase::Measure; }
    bool stopped() const { return phase_ == Phase::Done; }
    void countMessage(std::size_t bytes, Clock::time_point sentAt)
    {
        if (phase_ != Phase::Measure) return;
        ++stats_.msgs;
        stats_.bytes += bytes;
        if (o_.mode == "latency") latencies_.push_back(std::chrono::duration<double, std::micro>(Clock::now() - sentAt).count());
    }
    void countHandshake()
    {
        if (phase_ == Phase::Measure) ++stats_.handshakes;
    }
    void countError(int conn, const char* what, const boost::system::error_code& ec)
    {
        if (phase_ == Phase::Done) return;
        ++stats_.errors;
        if (errorsPrinted_++ < 5)
            std::fprintf(stderr, "wharf-bench: conn %d: %s%s%s\n", conn, what, ec ? ": " : "", ec ? ec.message().c_str() : "");
    }
    void connUpgraded();
    /// idle: after a settling second, reads the server's RSS into `into`, then calls `then`.
    template <class Then>
    void readRssSettled(long& into, Then then);
    /// fanout: connection count including the sender (index conns); others: --conns.
    int totalConns() const { return o_.conns + (o_.mode == "fanout" ? 1 : 0); }
    /// fanout, alltoall: the payload of message `seq`: "<seq> " then pattern bytes, --size in all
    /// (longer when the number does not fit).
    const std::string& fanoutPayload(std::uint64_t seq)
    {
        fanoutScratch_ = std::to_string(seq);
        fanoutScratch_ += ' ';
        if (fanoutScratch_.size() < o_.size) fanoutScratch_.append(pattern_.data() + seq % 251, o_.size - fanoutScratch_.size());
        return fanoutScratch_;
    }
    /// alltoall: the sequence number of a well-formed payload (what fanoutPayload made).
    std::optional<std::uint64_t> chatPayloadSeq(std::string_view payload) const
    {
        std::uint64_t seq = 0;
        std::size_t i = 0;
        for (; i < payload.size() && i < 20 && payload[i] >= '0' && payload[i] <= '9'; ++i) seq = seq * 10 + std::uint64_t(payload[i] - '0');
        if (i == 0 || i >= payload.size() || payload[i] != ' ') return std::nullopt;
        const std::size_t prefix = i + 1;
        const std::size_t padding = o_.size > prefix ? o_.size - prefix : 0;
        if (payload.size() != prefix + padding || std::memcmp(payload.data() + prefix, pattern_.data() + seq % 251, padding) != 0)
            return std::nullopt;
        return seq;
    }
    void fanoutReady(bool sender);
    /// fanout, alltoall: a delivery of message `seq` (with --rate, its latency is kept too).
    void countDelivery(std::size_t bytes, std::uint64_t seq)
    {
        if (phase_ != Phase::Measure) return;
        ++stats_.msgs;
        stats_.bytes += bytes;
        if (o_.rate > 0 && seq < pacedAt_.size())
            latencies_.push_back(std::chrono::duration<double, std::micro>(Clock::now() - pacedAt_[seq]).count());
    }
    void countBroadcast()
    {
        if (phase_ == Phase::Measure) ++stats_.broadcasts;
    }
    void handshakeIterationDone(int index);  // handshake mode: start the next iteration
    ssl::context& tlsContext() { return *tls_; }
    /// The first completed TLS handshake records what was negotiated, for the output.
    void noteTls(SSL* s)
    {
        if (!tlsVersion_.empty()) return;
        tlsVersion_ = SSL_get_version(s);
        if (const char* c = SSL_get_cipher_name(s)) tlsCipher_ = c;
        const int group = static_cast<int>(SSL_get_negotiated_group(s));
        if (group > 0)
            if (const char* g = OBJ_nid2sn(group)) tlsGroup_ = g;
    }

private:
    enum class Phase { Setup, Warmup, Measure, Done };
    void startPhase(Phase p);
    void finish();
    void startMoreConnections();
    std::shared_ptr<ConnBase> makeConn(int index);
    /// fanout --rate: sends the broadcasts due by now, then waits a millisecond.
    void pace();

    Options o_;
    net::io_context ioc_;
    net::steady_timer timer_;
    tcp::endpoint endpoint_;
    tcp::endpoint endpoint2_;  // --port2
    std::string hostHeader_;
    std::string pattern_;
    std::vector<std::shared_ptr<ConnBase>> conns_;
    int started_ = 0;
    int upgraded_ = 0;
    Phase phase_ = Phase::Setup;
    Stats stats_;
    int errorsPrinted_ = 0;
    std::vector<double> latencies_;
    Clock::time_point measureStart_, measureEnd_;
    double serverCpu0_ = -1, serverCpu1_ = -1, clientCpu0_ = 0, clientCpu1_ = 0;
    long rssBefore_ = -1, rssAfter_ = -1;
    long rssHalf_ = -1;        // idle: RSS with the first half of the connections open
    bool setupFailed_ = false;
    std::optional<ssl::context> tls_;  // --tls
    std::string tlsVersion_, tlsCipher_, tlsGroup_;
    std::string fanoutScratch_;
    int fanoutReady_ = 0;
    net::steady_timer paceTimer_{ioc_};     // --rate
    Clock::time_point paceStart_;
    std::vector<Clock::time_point> pacedAt_;  // --rate: when broadcast seq was sent
};

template <class Stream>
Stream Conn<Stream>::makeStream(Bench& b)
{
    if constexpr (isTls) return Stream(b.ioc(), b.tlsContext());
    else return Stream(b.ioc());
}

std::shared_ptr<ConnBase> Bench::makeConn(int index)
{
    if (tls_) return std::make_shared<Conn<TlsStream>>(*this, index);
    return std::make_shared<Conn<tcp::socket>>(*this, index);
}

template <class Stream>
Conn<Stream>::Conn(Bench& b, int index) : b_(b), index_(index), socket_(makeStream(b))
{
    if (b.opt().mode == "fanout") {
        fanout_ = true;
        fanoutSender_ = index == b.opt().conns;
        fanoutName_ = fanoutSender_ ? "sender" : "r" + std::to_string(index);
    } else if (b.opt().mode == "alltoall") {
        alltoall_ = true;
        fanoutName_ = "c" + std::to_string(index);
        nextFrom_.assign(static_cast<std::size_t>(b.opt().conns), 0);
    }
}

template <class Stream>
void Conn<Stream>::start()
{
    rbegin_ = rend_ = 0;
    upgraded_ = closing_ = false;
    if constexpr (isTls) {
        // SNI; with --ca the context also checks that the certificate names it.
        if (!SSL_set_tlsext_host_name(socket_.native_handle(), b_.opt().sni.c_str()))
            return error("SSL_set_tlsext_host_name");
    }
    lowest().async_connect(b_.endpointFor(index_), [self = this->shared_from_this()](const boost::system::error_code& ec) { self->onConnect(ec); });
}

template <class Stream>
void Conn<Stream>::error(const char* what, const boost::system::error_code& ec)
{
    b_.countError(index_, what, ec);
    stop();
}

template <class Stream>
void Conn<Stream>::onConnect(const boost::system::error_code& ec)
{
    if (b_.stopped()) return;
    if (ec) return error("connect", ec);
    lowest().set_option(tcp::no_delay(true));
    if constexpr (isTls) {
        socket_.async_handshake(ssl::stream_base::client, [self = this->shared_from_this()](const boost::system::error_code& e) {
            self->onTlsHandshake(e);
        });
    } else {
        sendUpgradeRequest();
    }
}

template <class Stream>
void Conn<Stream>::onTlsHandshake(const boost::system::error_code& ec)
{
    if (b_.stopped()) return;
    if (ec) return error("TLS handshake", ec);
    b_.noteTls(socket_.native_handle());
    sendUpgradeRequest();
}

template <class Stream>
void Conn<Stream>::sendUpgradeRequest()
{
    boost::beast::websocket::detail::sec_ws_key_type key;
    boost::beast::websocket::detail::make_sec_ws_key(key);
    key_.assign(key.data(), key.size());
    boost::beast::websocket::detail::sec_ws_accept_type accept;
    boost::beast::websocket::detail::make_sec_ws_accept(accept, boost::beast::string_view(key.data(), key.size()));
    accept_.assign(accept.data(), accept.size());
    std::string req = "GET " + b_.opt().path + " HTTP/1.1\r\nHost: " + b_.hostHeader() +
                      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key_ +
                      "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    wbuf_.assign(req.begin(), req.end());
    writing_ = true;
    net::async_write(socket_, net::buffer(wbuf_), [self = this->shared_from_this()](const boost::system::error_code& e, std::size_t) {
        self->writing_ = false;
        self->wbuf_.clear();
        if (e && !self->b_.stopped()) self->error("write upgrade request", e);
    });
    // Idle connections keep only a small buffer, so the client side scales to many.
    const bool idle = b_.opt().mode == "idle" || b_.opt().mode == "handshake";
    rbuf_.resize(idle ? 4096
                 : fanout_ || alltoall_ ? std::max<std::size_t>(16 * 1024, 2 * (b_.opt().size + 64))
                           : std::max<std::size_t>(64 * 1024, 2 * (b_.opt().size + 16)));
    readHandshake();
}

template <class Stream>
void Conn<Stream>::readHandshake()
{
    if (rend_ == rbuf_.size()) return error("upgrade response too large");
    socket_.async_read_some(net::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_),
                            [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                                if (self->b_.stopped()) return;
                                if (ec) return self->error("read upgrade response", ec);
                                self->onHandshakeBytes(n);
                            });
}

template <class Stream>
void Conn<Stream>::onHandshakeBytes(std::size_t n)
{
    rend_ += n;
    std::string_view data(rbuf_.data(), rend_);
    const auto end = data.find("\r\n\r\n");
    if (end == std::string_view::npos) return readHandshake();
    std::string head(data.substr(0, end + 2));
    if (head.rfind("HTTP/1.1 101", 0) != 0) return error(("upgrade refused: " + head.substr(0, head.find('\r'))).c_str());
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    const auto at = lower.find("\r\nsec-websocket-accept:");
    if (at == std::string::npos) return error("no Sec-WebSocket-Accept");
    auto valueStart = head.find_first_not_of(" \t", at + 23);
    auto valueEnd = head.find("\r\n", valueStart);
    std::string value = head.substr(valueStart, valueEnd - valueStart);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    if (value != accept_) return error("wrong Sec-WebSocket-Accept");
    if (lower.find("\r\nsec-websocket-extensions:") != std::string::npos) return error("server negotiated an extension we did not offer");
    rbegin_ = end + 4;
    upgraded_ = true;
    onUpgraded();
}

template <class Stream>
void Conn<Stream>::onUpgraded()
{
    const auto& mode = b_.opt().mode;
    if (mode == "handshake") {
        b_.countHandshake();
        // Close right away: 1000, then wait for the server's close and its EOF.
        const char payload[2] = {0x03, static_cast<char>(0xE8)};
        closing_ = true;
        sendControl(0x8, payload, 2);
    } else {
        if (fanout_ || alltoall_) {
            // The name first; ready once the chat announces it ("* name joined").
            appendMaskedFrame(pending_, 0x1, fanoutName_.data(), fanoutName_.size());
            flush();
        }
        b_.connUpgraded();
    }
    if (!parseFrames()) return;
    read();
}

template <class Stream>
void Conn<Stream>::read()
{
    if (rbegin_ == rend_) rbegin_ = rend_ = 0;
    else if (rbuf_.size() - rend_ < 4096 && rbegin_ > 0) {
        std::memmove(rbuf_.data(), rbuf_.data() + rbegin_, rend_ - rbegin_);
        rend_ -= rbegin_;
        rbegin_ = 0;
    }
    if (rend_ == rbuf_.size()) rbuf_.resize(rbuf_.size() * 2);
    socket_.async_read_some(net::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_),
                            [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                                if (self->b_.stopped()) return;
                                if (ec) {
                                    // After our close: the server's EOF (TLS: its close_notify,
                                    // or a TCP close without one).
                                    if (self->closing_ && (ec == net::error::eof || (isTls && ec == ssl::error::stream_truncated))) {
                                        self->stop();
                                        return self->b_.handshakeIterationDone(self->index_);
                                    }
                                    return self->error("read", ec);
                                }
                                self->onRead(n);
                            });
}

template <class Stream>
void Conn<Stream>::onRead(std::size_t n)
{
    rend_ += n;
    if (!parseFrames()) return;
    flush();
    read();
}

/// Handles every complete frame in the buffer; false when the connection is finished.
template <class Stream>
bool Conn<Stream>::parseFrames()
{
    for (;;) {
        const std::size_t avail = rend_ - rbegin_;
        if (avail < 2) return true;
        const auto* h = reinterpret_cast<const unsigned char*>(rbuf_.data() + rbegin_);
        const bool fin = h[0] & 0x80;
        const std::uint8_t opcode = h[0] & 0x0F;
        if (h[0] & 0x70) return error("RSV bits set"), false;
        if (h[1] & 0x80) return error("server frame is masked"), false;
        std::uint64_t len = h[1] & 0x7F;
        std::size_t headerLen = 2;
        if (len == 126) {
            if (avail < 4) return true;
            len = (std::uint64_t(h[2]) << 8) | h[3];
            headerLen = 4;
        } else if (len == 127) {
            if (avail < 10) return true;
            len = 0;
            for (int i = 0; i < 8; ++i) len = (len << 8) | h[2 + i];
            headerLen = 10;
        }
        if (len > (std::uint64_t(1) << 31)) return error("frame too large"), false;
        if (avail < headerLen + len) {
            if (rbuf_.size() < headerLen + len + 16) rbuf_.resize(headerLen + len + 4096);  // read() compacts first
            return true;
        }
        const char* payload = rbuf_.data() + rbegin_ + headerLen;
        rbegin_ += headerLen + len;
        if (opcode >= 0x8) {
            if (opcode == 0x8) {
                if (closing_) continue;  // our close answered; wait for EOF
                return error("server closed the connection"), false;
            }
            if (opcode == 0x9) sendControl(0xA, payload, len);
            continue;
        }
        if (opcode == 0x0 || !fin) {
            if (opcode != 0x0) fragOpcode_ = opcode, fragments_.clear();
            fragments_.append(payload, len);
            if (fin) {
                onMessage(fragOpcode_, fragments_.data(), fragments_.size());
                fragments_.clear();
            }
        } else {
            onMessage(opcode, payload, len);
        }
        if (b_.stopped()) return false;
    }
}

template <class Stream>
void Conn<Stream>::onMessage(std::uint8_t opcode, const char* data, std::size_t n)
{
    if (fanout_) return onFanoutMessage(opcode, data, n);
    if (alltoall_) return onAllToAllMessage(opcode, data, n);
    const auto& o = b_.opt();
    if (recvSeq_ >= sendSeq_) return error("unsolicited message");
    const std::uint8_t want = o.binary ? 0x2 : 0x1;
    const std::uint64_t seq = recvSeq_++;
    Clock::time_point sent{};
    if (!sentAt_.empty()) {
        sent = sentAt_.front();
        sentAt_.pop_front();
    }
    if (opcode != want || n != o.size || std::memcmp(data, b_.payloadFor(seq), n) != 0) {
        b_.countError(index_, "echo mismatch", {});
    } else {
        b_.countMessage(n, sent);
    }
    if (b_.sending()) sendMessage();
}

template <class Stream>
void Conn<Stream>::sendMessage()
{
    const auto& o = b_.opt();
    const std::uint64_t seq = sendSeq_++;
    if (o.mode == "latency") sentAt_.push_back(Clock::now());
    appendMaskedFrame(pending_, o.binary ? 0x2 : 0x1, b_.payloadFor(seq), o.size);
}

template <class Stream>
void Conn<Stream>::onFanoutMessage(std::uint8_t opcode, const char* data, std::size_t n)
{
    if (opcode != 0x1) return b_.countError(index_, "fanout: not a text message", {});
    const std::string_view text(data, n);
    if (text.starts_with("* ")) return onChatNotice(text);
    constexpr std::string_view prefix = "sender: ";
    if (!text.starts_with(prefix)) return b_.countError(index_, "fanout: unexpected message", {});
    const std::string_view payload = text.substr(prefix.size());
    if (fanoutSender_ && recvSeq_ >= sendSeq_) return error("fanout: unsolicited echo");
    const std::uint64_t seq = recvSeq_++;
    if (payload != b_.fanoutPayload(seq)) {
        b_.countError(index_, "fanout: payload mismatch", {});
        // Resynchronise on the sequence number the payload carries, if any.
        std::uint64_t got = 0;
        std::size_t i = 0;
        for (; i < payload.size() && i < 20 && payload[i] >= '0' && payload[i] <= '9'; ++i) got = got * 10 + std::uint64_t(payload[i] - '0');
        if (i > 0 && (!fanoutSender_ || got < sendSeq_)) recvSeq_ = got + 1;
    } else if (fanoutSender_) {
        b_.countBroadcast();
    } else {
        b_.countDelivery(n, seq);
    }
    if (fanoutSender_ && b_.sending() && b_.opt().rate <= 0) sendFanout();
}

template <class Stream>
void Conn<Stream>::onChatNotice(std::string_view text)
{
    // Join/leave notices; our own join makes this connection ready.
    if (!fanoutReady_ && text == "* " + fanoutName_ + " joined") {
        fanoutReady_ = true;
        b_.fanoutReady(fanoutSender_);
    }
}

template <class Stream>
void Conn<Stream>::onAllToAllMessage(std::uint8_t opcode, const char* data, std::size_t n)
{
    if (opcode != 0x1) return b_.countError(index_, "alltoall: not a text message", {});
    const std::string_view text(data, n);
    if (text.starts_with("* ")) return onChatNotice(text);
    // "c<index>: <payload>"
    std::size_t i = 1;
    std::size_t from = 0;
    for (; i < text.size() && i < 10 && text[i] >= '0' && text[i] <= '9'; ++i) from = from * 10 + std::size_t(text[i] - '0');
    if (text.empty() || text[0] != 'c' || i == 1 || from >= nextFrom_.size() || text.substr(i, 2) != ": ")
        return b_.countError(index_, "alltoall: unexpected message", {});
    const auto seq = b_.chatPayloadSeq(text.substr(i + 2));
    if (!seq) return b_.countError(index_, "alltoall: payload mismatch", {});
    // Every message of every sender reaches every member once, in the order it was sent.
    if (*seq != nextFrom_[from]) b_.countError(index_, "alltoall: a sender's messages arrived out of order or incomplete", {});
    nextFrom_[from] = *seq + 1;
    b_.countDelivery(n, *seq);
    if (from != static_cast<std::size_t>(index_)) return;
    if (recvSeq_ >= sendSeq_) return error("alltoall: unsolicited echo");
    ++recvSeq_;
    b_.countBroadcast();
    if (b_.sending()) sendFanout();
}

template <class Stream>
void Conn<Stream>::sendFanout()
{
    const std::string& payload = b_.fanoutPayload(sendSeq_++);
    appendMaskedFrame(pending_, 0x1, payload.data(), payload.size());
}

template <class Stream>
void Conn<Stream>::sendControl(std::uint8_t opcode, const char* data, std::size_t n)
{
    appendMaskedFrame(pending_, opcode, data, n);
    flush();
}

template <class Stream>
void Conn<Stream>::flush()
{
    if (writing_ || pending_.empty()) return;
    wbuf_.swap(pending_);
    writing_ = true;
    net::async_write(socket_, net::buffer(wbuf_), [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        self->writing_ = false;
        self->wbuf_.clear();
        if (self->b_.stopped()) return;
        if (ec) return self->error("write", ec);
        self->flush();
    });
}

template <class Then>
void Bench::readRssSettled(long& into, Then then)
{
    // Let the server settle (deferred frees, lazy buffers), then read its RSS.
    timer_.expires_after(std::chrono::milliseconds(1000));
    timer_.async_wait([this, &into, then](const boost::system::error_code& ec) {
        if (ec) return;
        into = procRssKiB(o_.idlePid);
        then();
    });
}

void Bench::connUpgraded()
{
    ++upgraded_;
    if (o_.mode == "idle" && rssHalf_ < 0 && upgraded_ == o_.conns / 2 && o_.conns >= 2) {
        // Half are open and nothing is in flight: read RSS, then open the rest. The second
        // half's growth is the marginal cost of a connection, without what a server sets
        // up once (thread buffers, pools, handshakes in flight).
        return readRssSettled(rssHalf_, [this] { startMoreConnections(); });
    }
    startMoreConnections();
    if (o_.mode == "fanout" || o_.mode == "alltoall") return;  // fanoutReady() moves on
    if (upgraded_ == o_.conns) {
        if (o_.mode == "idle") {
            return readRssSettled(rssAfter_, [this] { finish(); });
        }
        startPhase(Phase::Warmup);
    }
}

void Bench::fanoutReady(bool sender)
{
    if (phase_ != Phase::Setup) return;
    if (o_.mode == "alltoall") {
        if (++fanoutReady_ == o_.conns) startPhase(Phase::Warmup);  // every member is in the room
        return;
    }
    if (sender) return startPhase(Phase::Warmup);  // primes the sender alone
    if (++fanoutReady_ == o_.conns) {
        // Every receiver is in the room: now the sender.
        const int i = o_.conns;
        ++started_;
        conns_[i] = makeConn(i);
        conns_[i]->start();
    }
}

void Bench::pace()
{
    if (!sending()) return;
    const auto now = Clock::now();
    const auto due = static_cast<std::size_t>(std::chrono::duration<double>(now - paceStart_).count() * o_.rate) + 1;
    if (due > pacedAt_.size()) {
        const auto n = due - pacedAt_.size();
        pacedAt_.insert(pacedAt_.end(), n, now);
        conns_[o_.conns]->prime(static_cast<int>(n));
    }
    paceTimer_.expires_after(std::chrono::milliseconds(1));
    paceTimer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) pace();
    });
}

void Bench::handshakeIterationDone(int index)
{
    if (!sending()) return;
    conns_[index] = makeConn(index);
    conns_[index]->start();
}

void Bench::startMoreConnections()
{
    // idle: stop at half, so RSS can be read there too (see connUpgraded).
    const int until = o_.mode == "idle" && rssHalf_ < 0 && o_.conns >= 2 ? o_.conns / 2 : o_.conns;
    while (started_ < until && started_ - upgraded_ < o_.connectConcurrency) {
        const int i = started_++;
        conns_[i] = makeConn(i);
        conns_[i]->start();
    }
}

void Bench::startPhase(Phase p)
{
    phase_ = p;
    if (p == Phase::Warmup) {
        if (o_.mode == "echo" || o_.mode == "latency" || o_.mode == "alltoall")
            for (auto& c : conns_) c->prime(o_.inflight);
        if (o_.mode == "fanout" && o_.rate > 0) {
            paceStart_ = Clock::now();
            pace();
        } else if (o_.mode == "fanout") {
            conns_[o_.conns]->prime(o_.inflight);
        }
        if (o_.warmup <= 0) return startPhase(Phase::Measure);
        timer_.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.warmup)));
        timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) startPhase(Phase::Measure);
        });
    } else if (p == Phase::Measure) {
        stats_ = Stats{0, 0, 0, stats_.errors, 0};  // errors of the warm-up still count
        latencies_.clear();
        measureStart_ = Clock::now();
        serverCpu0_ = procCpuSeconds(o_.serverPid);
        clientCpu0_ = selfCpuSeconds();
        timer_.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.duration)));
        timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) finish();
        });
    }
}

void Bench::finish()
{
    if (phase_ == Phase::Done) return;
    measureEnd_ = Clock::now();
    serverCpu1_ = procCpuSeconds(o_.serverPid);
    clientCpu1_ = selfCpuSeconds();
    phase_ = Phase::Done;
    timer_.cancel();
    paceTimer_.cancel();
    for (auto& c : conns_)
        if (c) c->stop();
    ioc_.stop();
}

int Bench::run()
{
    if (!isLoopback(o_.host, ioc_, endpoint_)) {
        std::fprintf(stderr, "wharf-bench: refusing host '%s': only loopback addresses are allowed\n", o_.host.c_str());
        return 2;
    }
    endpoint_.port(static_cast<unsigned short>(o_.port));
    endpoint2_ = endpoint_;
    endpoint2_.port(static_cast<unsigned short>(o_.port2));
    if (o_.tls) {
        tls_.emplace(ssl::context::tls_client);
        tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                          ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        // Every handshake is a full one: no session cache, no tickets kept.
        SSL_CTX_set_session_cache_mode(tls_->native_handle(), SSL_SESS_CACHE_OFF);
        if (o_.ca.empty()) {
            tls_->set_verify_mode(ssl::verify_none);
        } else {
            boost::system::error_code ec;
            tls_->load_verify_file(o_.ca, ec);
            if (ec) {
                std::fprintf(stderr, "wharf-bench: --ca %s: %s\n", o_.ca.c_str(), ec.message().c_str());
                return 2;
            }
            tls_->set_verify_mode(ssl::verify_peer);
            tls_->set_verify_callback(ssl::host_name_verification(o_.sni));
        }
    }
    if (o_.mode == "idle") {
        rssBefore_ = procRssKiB(o_.idlePid);
        if (rssBefore_ < 0) {
            std::fprintf(stderr, "wharf-bench: cannot read /proc/%ld/status\n", o_.idlePid);
            return 2;
        }
    }
    conns_.resize(static_cast<std::size_t>(totalConns()));
    // Setup (connect + upgrade of every connection) has its own bound.
    const auto setupLimit = std::chrono::seconds(o_.mode == "idle" ? 60 : o_.mode == "fanout" || o_.mode == "alltoall" ? 30 : 15);
    net::steady_timer setupTimer(ioc_);
    setupTimer.expires_after(setupLimit);
    setupTimer.async_wait([this](const boost::system::error_code& ec) {
        if (ec || phase_ != Phase::Setup) return;
        std::fprintf(stderr, "wharf-bench: setup did not finish in time (%d of %d connections upgraded)\n", upgraded_, o_.conns);
        setupFailed_ = true;
        ++stats_.errors;
        finish();
    });
    if (o_.mode == "handshake") {
        startPhase(Phase::Warmup);
        for (int i = 0; i < o_.conns; ++i) {
            conns_[i] = makeConn(i);
            conns_[i]->start();
        }
        setupTimer.cancel();
    } else {
        startMoreConnections();
    }
    // Hard stop: nothing may outlive setup + warm-up + duration by much.
    std::thread watchdog([this, limit = setupLimit + std::chrono::duration_cast<std::chrono::seconds>(
                                                     std::chrono::duration<double>(o_.warmup + o_.duration + 10))] {
        const auto until = Clock::now() + limit;
        while (!ioc_.stopped() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (!ioc_.stopped()) {
            std::fprintf(stderr, "wharf-bench: watchdog: run did not end in time\n");
            std::_Exit(3);
        }
    });
    ioc_.run();
    watchdog.join();

    // No measured window when setup failed.
    const double secs = measureStart_ == Clock::time_point{} ? 0.0 : std::chrono::duration<double>(measureEnd_ - measureStart_).count();
    std::string line = "mode=" + o_.mode;
    if (!o_.label.empty()) line += " label=" + o_.label;
    if (o_.tls) {
        line += " tls=1";
        if (!tlsVersion_.empty()) line += " tls_version=" + tlsVersion_ + " tls_cipher=" + tlsCipher_;
        if (!tlsGroup_.empty()) line += " tls_group=" + tlsGroup_;
    }
    char buf[512];
    std::snprintf(buf, sizeof buf, " conns=%d", o_.conns);
    line += buf;
    if (o_.mode == "echo" || o_.mode == "latency") {
        std::snprintf(buf, sizeof buf, " inflight=%d size=%zu type=%s", o_.inflight, o_.size, o_.binary ? "binary" : "text");
        line += buf;
    }
    if (o_.mode == "fanout" || o_.mode == "alltoall") {
        // With --rate the sender keeps no count outstanding: the rate= field says what it did.
        if (o_.rate > 0) std::snprintf(buf, sizeof buf, " size=%zu", o_.size);
        else std::snprintf(buf, sizeof buf, " inflight=%d size=%zu", o_.inflight, o_.size);
        line += buf;
    }
    if (o_.mode == "idle") {
        const double per = rssAfter_ >= 0 ? double(rssAfter_ - rssBefore_) * 1024.0 / o_.conns : -1;
        const int secondHalf = o_.conns - o_.conns / 2;
        const double marginal = rssAfter_ >= 0 && rssHalf_ >= 0 ? double(rssAfter_ - rssHalf_) * 1024.0 / secondHalf : -1;
        std::snprintf(buf, sizeof buf, " rss_before_kib=%ld rss_half_kib=%ld rss_after_kib=%ld bytes_per_conn=%.0f marginal_bytes_per_conn=%.0f",
                      rssBefore_, rssHalf_, rssAfter_, per, marginal);
        line += buf;
    } else {
        std::snprintf(buf, sizeof buf, " duration_s=%.3f", secs > 0 ? secs : 0.0);
        line += buf;
    }
    if (o_.mode == "echo" || o_.mode == "latency") {
        std::snprintf(buf, sizeof buf, " msgs=%" PRIu64 " msgs_per_s=%.0f mb_per_s=%.2f", stats_.msgs,
                      secs > 0 ? double(stats_.msgs) / secs : 0.0, secs > 0 ? double(stats_.bytes) / secs / 1e6 : 0.0);
        line += buf;
    }
    if (o_.mode == "fanout" && o_.rate > 0) {
        std::snprintf(buf, sizeof buf, " rate=%.0f", o_.rate);
        line += buf;
    }
    if (o_.mode == "latency" || (o_.mode == "fanout" && o_.rate > 0)) {
        auto pct = [&](double q) {
            if (latencies_.empty()) return 0.0;
            auto v = latencies_;
            const auto k = std::min(v.size() - 1, static_cast<std::size_t>(q * double(v.size())));
            std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
            return v[k];
        };
        std::snprintf(buf, sizeof buf, " p50_us=%.1f p99_us=%.1f p999_us=%.1f", pct(0.50), pct(0.99), pct(0.999));
        line += buf;
    }
    if (o_.mode == "fanout") {
        std::snprintf(buf, sizeof buf, " broadcasts=%" PRIu64 " broadcasts_per_s=%.0f deliveries=%" PRIu64 " deliveries_per_s=%.0f",
                      stats_.broadcasts, secs > 0 ? double(stats_.broadcasts) / secs : 0.0, stats_.msgs,
                      secs > 0 ? double(stats_.msgs) / secs : 0.0);
        line += buf;
    }
    if (o_.mode == "alltoall") {
        std::snprintf(buf, sizeof buf, " messages=%" PRIu64 " messages_per_s=%.0f deliveries=%" PRIu64 " deliveries_per_s=%.0f",
                      stats_.broadcasts, secs > 0 ? double(stats_.broadcasts) / secs : 0.0, stats_.msgs,
                      secs > 0 ? double(stats_.msgs) / secs : 0.0);
        line += buf;
    }
    if (o_.mode == "handshake") {
        std::snprintf(buf, sizeof buf, " handshakes=%" PRIu64 " handshakes_per_s=%.0f", stats_.handshakes,
                      secs > 0 ? double(stats_.handshakes) / secs : 0.0);
        line += buf;
    }
    std::snprintf(buf, sizeof buf, " errors=%" PRIu64, stats_.errors);
    line += buf;
    if (o_.serverPid > 0 && o_.mode != "idle") {
        std::snprintf(buf, sizeof buf, " server_cpu_s=%.2f", serverCpu1_ >= 0 && serverCpu0_ >= 0 ? serverCpu1_ - serverCpu0_ : -1.0);
        line += buf;
    }
    if (o_.mode != "idle") {
        std::snprintf(buf, sizeof buf, " client_cpu_s=%.2f", clientCpu1_ - clientCpu0_);
        line += buf;
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    return setupFailed_ ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv)
{
    Options o = parse(argc, argv);
    Bench bench(std::move(o));
    return bench.run();
}
