#include "support/RawClient.hpp"

// The client role of the protocol core's frame writer (a private header: this file is on
// the test-only include path, see tests/CMakeLists.txt).
#include "protocol/FrameWriter.hpp"

#include <wharf/Http.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace wharf::test {

std::optional<std::string> HttpResponse::header(std::string_view name) const
{
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return v;
    return std::nullopt;
}

std::uint16_t Frame::closeCode() const
{
    if (payload.size() < 2) return 0;
    return static_cast<std::uint16_t>((std::uint8_t(payload[0]) << 8) | std::uint8_t(payload[1]));
}

std::string Frame::closeReason() const { return payload.size() > 2 ? payload.substr(2) : std::string(); }

RawClient::RawClient(std::uint16_t port, std::string host) { connect(port, std::move(host)); }

RawClient::~RawClient() { close(); }

RawClient::RawClient(RawClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), buf_(std::move(other.buf_)), port_(other.port_)
{
}

RawClient& RawClient::operator=(RawClient&& other) noexcept
{
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
        buf_ = std::move(other.buf_);
        port_ = other.port_;
    }
    return *this;
}

void RawClient::connect(std::uint16_t port, std::string host)
{
    close();
    port_ = port;
    const bool v6 = host.find(':') != std::string::npos;
    fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc;
    if (v6) {
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(port);
        ::inet_pton(AF_INET6, host.c_str(), &a.sin6_addr);
        rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
        rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    if (rc != 0) {
        const int e = errno;
        close();
        throw std::runtime_error(std::string("connect failed: ") + std::strerror(e));
    }
}

void RawClient::close()
{
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
}

void RawClient::shutdownSend()
{
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void RawClient::sendRaw(std::string_view bytes)
{
    while (!bytes.empty()) {
        const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("send failed: ") + std::strerror(errno));
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

bool RawClient::fill(std::chrono::steady_clock::time_point deadline)
{
    if (fd_ < 0) return false;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) return false;
        char tmp[65536];
        const auto n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        buf_.append(tmp, static_cast<std::size_t>(n));
        return true;
    }
}

bool RawClient::need(std::size_t n, std::chrono::steady_clock::time_point deadline)
{
    while (buf_.size() < n)
        if (!fill(deadline)) return false;
    return true;
}

HttpResponse RawClient::readResponse(std::chrono::milliseconds timeout, bool headRequest)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
        if (!fill(deadline)) throw std::runtime_error("no complete HTTP response (timeout or closed); got: " + buf_);
    HttpResponse r;
    const std::string headText = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    std::size_t lineEnd = headText.find("\r\n");
    const std::string statusLine = headText.substr(0, lineEnd);
    const auto sp1 = statusLine.find(' ');
    r.status = std::stoi(statusLine.substr(sp1 + 1, 3));
    r.reason = statusLine.size() > sp1 + 5 ? statusLine.substr(sp1 + 5) : "";
    while (lineEnd != std::string::npos) {
        const auto start = lineEnd + 2;
        lineEnd = headText.find("\r\n", start);
        const std::string line = headText.substr(start, lineEnd == std::string::npos ? std::string::npos : lineEnd - start);
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        r.headers.emplace_back(line.substr(0, colon), value);
    }
    const bool bodyless = headRequest || r.status == 204 || r.status == 304 || r.status / 100 == 1;
    if (auto cl = r.header("Content-Length"); cl && !bodyless) {
        const auto length = std::stoul(*cl);
        if (!need(length, deadline)) throw std::runtime_error("HTTP body incomplete");
        r.body = buf_.substr(0, length);
        buf_.erase(0, length);
    }
    return r;
}

HttpResponse RawClient::get(std::string_view target, std::string_view extraHeaders)
{
    sendRaw(std::string("GET ") + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + std::string(extraHeaders) +
            "\r\n");
    return readResponse();
}

HttpResponse RawClient::handshake(std::string_view target, std::string_view extraHeaders)
{
    sendRaw(std::string("GET ") + std::string(target) +
            " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
            std::string(extraHeaders) + "\r\n");
    return readResponse();
}

std::string RawClient::buildFrame(std::uint8_t opcode, std::string_view payload, bool fin, bool masked, std::uint8_t rsv)
{
    // A client's frame (masked with a fresh key), or for negative tests an unmasked one as
    // a server would write it; reserved opcodes and RSV bits go in as given.
    std::string f;
    detail::FrameWriter(masked ? detail::Role::Client : detail::Role::Server)
        .appendFrame(f, static_cast<detail::Opcode>(opcode & 0x0F), payload, fin);
    f[0] = static_cast<char>(f[0] | (rsv & 0x70));
    return f;
}

std::string RawClient::buildHeader(std::uint8_t b0, std::uint64_t length)
{
    char h[detail::maxFrameHeader];
    detail::MaskKey key;
    const auto n = detail::FrameWriter(detail::Role::Client).writeHeader(h, detail::Opcode::Continuation, length, false,
                                                                         false, key);
    h[0] = static_cast<char>(b0);
    return std::string(h, n);
}

void RawClient::sendFrame(std::uint8_t opcode, std::string_view payload, bool fin, bool masked, std::uint8_t rsv)
{
    sendRaw(buildFrame(opcode, payload, fin, masked, rsv));
}

void RawClient::sendClose(std::uint16_t code, std::string_view reason)
{
    std::string p;
    p.push_back(static_cast<char>(code >> 8));
    p.push_back(static_cast<char>(code & 0xFF));
    p.append(reason);
    sendFrame(0x8, p);
}

std::optional<Frame> RawClient::readFrame(std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!need(2, deadline)) return std::nullopt;
    const auto b0 = std::uint8_t(buf_[0]), b1 = std::uint8_t(buf_[1]);
    std::size_t header = 2;
    std::uint64_t length = b1 & 0x7F;
    if (length == 126) header = 4;
    else if (length == 127) header = 10;
    if (b1 & 0x80) header += 4;  // servers must not mask, but parse it anyway
    if (!need(header, deadline)) return std::nullopt;
    if ((b1 & 0x7F) == 126) length = (std::uint64_t(std::uint8_t(buf_[2])) << 8) | std::uint8_t(buf_[3]);
    else if ((b1 & 0x7F) == 127) {
        length = 0;
        for (int i = 0; i < 8; ++i) length = (length << 8) | std::uint8_t(buf_[2 + i]);
    }
    if (!need(header + length, deadline)) return std::nullopt;
    Frame f;
    f.fin = b0 & 0x80;
    f.rsv1 = b0 & 0x40;
    f.opcode = b0 & 0x0F;
    f.payload = buf_.substr(header, length);
    buf_.erase(0, header + length);
    return f;
}

std::optional<Frame> RawClient::readUntilClose(std::chrono::milliseconds timeout, std::vector<Frame>* skipped)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        auto f = readFrame(left);
        if (!f) return std::nullopt;
        if (f->opcode == 0x8) return f;
        if (skipped) skipped->push_back(std::move(*f));
    }
}

bool RawClient::waitForEof(std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    buf_.clear();
    while (std::chrono::steady_clock::now() < deadline) {
        if (!fill(deadline)) return std::chrono::steady_clock::now() < deadline;
        buf_.clear();
    }
    return false;
}

}  // namespace wharf::test
