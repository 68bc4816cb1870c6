#include "conformance/client/FakeServer.hpp"

#include "support/RawClient.hpp"

#include <wharf/Http.hpp>

#include <openssl/evp.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace wharf::conformance::client {

namespace {

std::string trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return std::string(s);
}

std::string subjectTemplate()
{
    if (const char* env = std::getenv("WHARF_CLIENT_SUBJECT"); env && *env) return env;
#ifdef WHARF_ECHO_CLIENT
    return WHARF_ECHO_CLIENT " {url}";
#else
    throw std::runtime_error("no client to test: this build has no wharf-echo-client; set WHARF_CLIENT_SUBJECT, e.g. "
                             "\"/usr/bin/python3 tests/interop/reference_echo_client.py {url}\"");
#endif
}

std::string readWhole(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string tempFile(const char* what)
{
    std::string path = std::string("/tmp/wharf-clientconf-") + what + "-XXXXXX";
    const int fd = ::mkstemp(path.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    return path;
}

}  // namespace

std::optional<std::string> UpgradeRequestSeen::header(std::string_view name) const
{
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return v;
    return std::nullopt;
}

bool UpgradeRequestSeen::hasToken(std::string_view name, std::string_view token) const
{
    // A list-valued header may also be split over several lines (RFC 9110 5.3).
    for (const auto& [n, v] : headers) {
        if (!iequals(n, name)) continue;
        std::string_view rest = v;
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            if (iequals(trim(rest.substr(0, comma)), token)) return true;
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
    }
    return false;
}

std::uint16_t ClientFrame::closeCode() const
{
    if (payload.size() < 2) return 0;
    return static_cast<std::uint16_t>((std::uint8_t(payload[0]) << 8) | std::uint8_t(payload[1]));
}

std::string SubjectExit::lastLine() const
{
    std::string_view s = out;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
    const auto nl = s.rfind('\n');
    return std::string(nl == std::string_view::npos ? s : s.substr(nl + 1));
}

FakeServer::FakeServer(std::vector<std::string> args, std::string path, Listen listen)
{
    listenFd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listenFd_ < 0) throw std::runtime_error("socket() failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = 0;
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    socklen_t length = sizeof a;
    if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        (listen == Listen::Yes && ::listen(listenFd_, 4) != 0) ||
        ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&a), &length) != 0) {
        ::close(listenFd_);
        throw std::runtime_error("cannot listen on 127.0.0.1:0");
    }
    port_ = ntohs(a.sin_port);

    const std::string url = "ws://127.0.0.1:" + std::to_string(port_) + path;
    std::vector<std::string> argv;
    std::istringstream words(subjectTemplate());
    for (std::string word; words >> word;) {
        if (const auto at = word.find("{url}"); at != std::string::npos) word.replace(at, 5, url);
        argv.push_back(word);
    }
    argv.insert(argv.end(), args.begin(), args.end());
    for (const auto& word : argv) commandLine_ += (commandLine_.empty() ? "" : " ") + word;
    spawn(argv);
}

void FakeServer::spawn(const std::vector<std::string>& argv)
{
    outPath_ = tempFile("out");
    errPath_ = tempFile("err");
    std::vector<char*> cargv;
    for (const auto& word : argv) cargv.push_back(const_cast<char*>(word.c_str()));
    cargv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        const int in = ::open("/dev/null", O_RDONLY);
        const int out = ::open(outPath_.c_str(), O_WRONLY | O_TRUNC);
        const int err = ::open(errPath_.c_str(), O_WRONLY | O_TRUNC);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        ::close(listenFd_);
        ::execvp(cargv[0], cargv.data());
        std::fprintf(stderr, "cannot run %s: %s\n", cargv[0], std::strerror(errno));
        ::_exit(127);
    }
}

FakeServer::~FakeServer()
{
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
    if (listenFd_ >= 0) ::close(listenFd_);
    if (!outPath_.empty()) ::unlink(outPath_.c_str());
    if (!errPath_.empty()) ::unlink(errPath_.c_str());
}

const UpgradeRequestSeen& FakeServer::readRequest(std::chrono::milliseconds wait)
{
    const auto deadline = std::chrono::steady_clock::now() + wait;
    pollfd p{listenFd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0)
        throw std::runtime_error("the client did not connect within " + std::to_string(wait.count()) +
                                 " ms; its stderr: " + readWhole(errPath_));
    fd_ = ::accept(listenFd_, nullptr, nullptr);
    if (fd_ < 0) throw std::runtime_error("accept failed");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
        if (!fill(deadline)) throw std::runtime_error("no complete request head from the client; got: " + buf_);
    const std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    std::istringstream lines(head);
    std::string line;
    std::getline(lines, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream requestLine(line);
    requestLine >> request_.method >> request_.target >> request_.version;
    while (std::getline(lines, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        request_.headers.emplace_back(line.substr(0, colon), trim(std::string_view(line).substr(colon + 1)));
    }
    return request_;
}

std::string FakeServer::switchingProtocols(std::string_view extraHeaders) const
{
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
           expectedAccept(request_.header("Sec-WebSocket-Key").value_or("")) + "\r\n" + std::string(extraHeaders) +
           "\r\n";
}

const UpgradeRequestSeen& FakeServer::open(std::string_view extraHeaders)
{
    readRequest();
    send(switchingProtocols(extraHeaders));
    return request_;
}

void FakeServer::send(std::string_view bytes)
{
    while (!bytes.empty()) {
        const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("send to the client failed: ") + std::strerror(errno));
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::string FakeServer::frame(std::uint8_t opcode, std::string_view payload, bool fin, std::uint8_t rsv, bool masked)
{
    return test::RawClient::buildFrame(opcode, payload, fin, masked, rsv);
}

void FakeServer::sendClose(std::uint16_t code, std::string_view reason)
{
    std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
    p.append(reason);
    sendFrame(0x8, p);
}

void FakeServer::halfClose()
{
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void FakeServer::closeTcp()
{
    if (fd_ < 0) return;
    halfClose();
    ::close(fd_);
    fd_ = -1;
}

bool FakeServer::fill(std::chrono::steady_clock::time_point deadline)
{
    if (fd_ < 0 || eof_) return false;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) return false;
        char tmp[65536];
        const auto n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        buf_.append(tmp, static_cast<std::size_t>(n));
        return true;
    }
}

bool FakeServer::need(std::size_t n, std::chrono::steady_clock::time_point deadline)
{
    while (buf_.size() < n)
        if (!fill(deadline)) return false;
    return true;
}

std::optional<ClientFrame> FakeServer::readFrame(std::chrono::milliseconds wait)
{
    const auto deadline = std::chrono::steady_clock::now() + wait;
    if (!need(2, deadline)) return std::nullopt;
    const auto b0 = std::uint8_t(buf_[0]), b1 = std::uint8_t(buf_[1]);
    std::size_t header = 2;
    if ((b1 & 0x7F) == 126) header = 4;
    else if ((b1 & 0x7F) == 127) header = 10;
    const bool masked = b1 & 0x80;
    if (masked) header += 4;
    if (!need(header, deadline)) return std::nullopt;
    std::uint64_t length = b1 & 0x7F;
    if (length == 126) length = (std::uint64_t(std::uint8_t(buf_[2])) << 8) | std::uint8_t(buf_[3]);
    else if (length == 127) {
        length = 0;
        for (int i = 0; i < 8; ++i) length = (length << 8) | std::uint8_t(buf_[2 + i]);
    }
    if (!need(header + length, deadline)) return std::nullopt;
    ClientFrame f;
    f.fin = b0 & 0x80;
    f.rsv = b0 & 0x70;
    f.opcode = b0 & 0x0F;
    f.masked = masked;
    f.payload = buf_.substr(header, length);
    if (masked) {
        const char* key = buf_.data() + header - 4;
        for (int i = 0; i < 4; ++i) f.maskKey = (f.maskKey << 8) | std::uint8_t(key[i]);
        for (std::size_t i = 0; i < f.payload.size(); ++i) f.payload[i] = static_cast<char>(f.payload[i] ^ key[i % 4]);
    }
    buf_.erase(0, header + length);
    return f;
}

bool FakeServer::waitForEof(std::chrono::milliseconds wait, std::string* unexpected)
{
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (buf_.empty() && fill(deadline)) {
    }
    if (unexpected) *unexpected = buf_;
    return eof_ && buf_.empty();
}

bool FakeServer::staysQuiet(std::chrono::milliseconds wait)
{
    const auto deadline = std::chrono::steady_clock::now() + wait;
    return buf_.empty() && !fill(deadline) && !eof_;
}

SubjectExit FakeServer::waitExit(std::chrono::milliseconds wait)
{
    SubjectExit result;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    int status = 0;
    while (pid_ > 0) {
        const pid_t done = ::waitpid(pid_, &status, WNOHANG);
        if (done == pid_) {
            result.exited = true;
            pid_ = -1;
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
            pid_ = -1;
            break;
        }
        std::this_thread::sleep_for(5ms);
    }
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = readWhole(outPath_);
    result.err = readWhole(errPath_);
    return result;
}

std::string expectedAccept(std::string_view key)
{
    const std::string input = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha1(), nullptr);
    unsigned char out[64];
    const int n = EVP_EncodeBlock(out, digest, static_cast<int>(length));
    return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
}

int base64DecodedSize(std::string_view value)
{
    if (value.empty() || value.size() % 4 != 0 || value.size() > 256) return -1;
    unsigned char out[256];
    const int n = EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(value.data()), static_cast<int>(value.size()));
    if (n < 0) return -1;
    // EVP_DecodeBlock counts the bytes the '=' padding stands for.
    const int padding = value.back() == '=' ? (value[value.size() - 2] == '=' ? 2 : 1) : 0;
    return n - padding;
}

}  // namespace wharf::conformance::client
