#include "support/TlsClient.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace wharf::test {
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;

struct TlsClient::Impl {
    net::io_context ioc;
    ssl::context ctx{ssl::context::tls_client};
    websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws{ioc, ctx};
    beast::flat_buffer buffer;
    std::string host;

    /// Starts an operation with a completion handler and runs it to the end or the timeout.
    template <class Start>
    boost::system::error_code await(Start&& start, std::chrono::milliseconds timeout, const char* what)
    {
        boost::system::error_code result;
        bool done = false;
        ioc.restart();
        start([&](const boost::system::error_code& ec, auto&&...) {
            result = ec;
            done = true;
        });
        ioc.run_for(timeout);
        if (!done) {
            beast::get_lowest_layer(ws).close();
            ioc.restart();
            ioc.run();
            throw std::runtime_error(std::string("TlsClient: ") + what + " timed out");
        }
        return result;
    }
};

TlsClient::TlsClient(std::uint16_t port, const std::filesystem::path& caFile, std::string hostName, std::string alpn)
    : TlsClient(port, caFile, Options{std::move(hostName), true, std::move(alpn)})
{
}

TlsClient::TlsClient(std::uint16_t port, const std::filesystem::path& caFile, Options options)
    : impl_(std::make_unique<Impl>())
{
    auto& s = *impl_;
    s.host = options.serverName.empty() ? "localhost" : options.serverName;
    s.ctx.load_verify_file(caFile.string());
    auto& tls = s.ws.next_layer();
    tls.set_verify_mode(ssl::verify_peer);
    if (options.verifyName) tls.set_verify_callback(ssl::host_name_verification(options.serverName));
    if (!options.serverName.empty() && !SSL_set_tlsext_host_name(tls.native_handle(), options.serverName.c_str()))
        throw std::runtime_error("TlsClient: cannot set SNI");
    const auto& alpn = options.alpn;
    if (!alpn.empty())
        SSL_set_alpn_protos(tls.native_handle(), reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned>(alpn.size()));
    const net::ip::tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
    auto ec = s.await([&](auto h) { beast::get_lowest_layer(s.ws).async_connect(endpoint, h); }, 5s, "connect");
    if (ec) throw std::runtime_error("TlsClient: connect failed: " + ec.message());
    ec = s.await([&](auto h) { tls.async_handshake(ssl::stream_base::client, h); }, 5s, "TLS handshake");
    if (ec) throw std::runtime_error("TlsClient: TLS handshake failed: " + ec.message());
}

TlsClient::~TlsClient()
{
    boost::system::error_code ec;
    beast::get_lowest_layer(impl_->ws).socket().close(ec);
}

std::string TlsClient::alpnSelected() const
{
    const unsigned char* data = nullptr;
    unsigned int size = 0;
    SSL_get0_alpn_selected(impl_->ws.next_layer().native_handle(), &data, &size);
    return data ? std::string(reinterpret_cast<const char*>(data), size) : std::string();
}

std::string TlsClient::peerCommonName() const
{
    X509* peer = SSL_get0_peer_certificate(impl_->ws.next_layer().native_handle());
    char name[256] = {};
    if (!peer || X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, name, sizeof name) < 0)
        return {};
    return name;
}

std::vector<std::string> TlsClient::peerNames() const
{
    std::vector<std::string> names;
    X509* peer = SSL_get0_peer_certificate(impl_->ws.next_layer().native_handle());
    auto* alternatives =
        peer ? static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(peer, NID_subject_alt_name, nullptr, nullptr)) : nullptr;
    for (int i = 0; alternatives && i < sk_GENERAL_NAME_num(alternatives); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(alternatives, i);
        if (name->type == GEN_DNS)
            names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                               ASN1_STRING_length(name->d.dNSName));
    }
    GENERAL_NAMES_free(alternatives);
    return names;
}

HttpResponse TlsClient::get(std::string_view target, std::chrono::milliseconds timeout)
{
    auto& s = *impl_;
    http::request<http::empty_body> req(http::verb::get, target, 11);
    req.set(http::field::host, s.host);
    req.keep_alive(true);
    auto ec = s.await([&](auto h) { http::async_write(s.ws.next_layer(), req, h); }, timeout, "HTTP write");
    if (ec) throw std::runtime_error("TlsClient: HTTP write failed: " + ec.message());
    http::response<http::string_body> res;
    ec = s.await([&](auto h) { http::async_read(s.ws.next_layer(), s.buffer, res, h); }, timeout, "HTTP read");
    if (ec) throw std::runtime_error("TlsClient: HTTP read failed: " + ec.message());
    HttpResponse out;
    out.status = res.result_int();
    out.reason = std::string(res.reason());
    for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    out.body = std::move(res.body());
    return out;
}

void TlsClient::upgrade(std::string_view target, std::chrono::milliseconds timeout)
{
    auto& s = *impl_;
    s.ws.read_message_max(64 * 1024 * 1024);
    websocket::response_type res;
    auto ec = s.await([&](auto h) { s.ws.async_handshake(res, s.host, target, h); }, timeout, "WebSocket handshake");
    if (ec)
        throw std::runtime_error("TlsClient: WebSocket handshake failed (" + std::to_string(res.result_int()) +
                                 "): " + ec.message());
}

void TlsClient::sendText(std::string_view text, std::chrono::milliseconds timeout)
{
    auto& s = *impl_;
    s.ws.text(true);
    auto ec = s.await([&](auto h) { s.ws.async_write(net::buffer(text), h); }, timeout, "send");
    if (ec) throw std::runtime_error("TlsClient: send failed: " + ec.message());
}

void TlsClient::sendBinary(std::string_view data, std::chrono::milliseconds timeout)
{
    auto& s = *impl_;
    s.ws.binary(true);
    auto ec = s.await([&](auto h) { s.ws.async_write(net::buffer(data), h); }, timeout, "send");
    if (ec) throw std::runtime_error("TlsClient: send failed: " + ec.message());
}

std::optional<TlsClient::Message> TlsClient::read(std::chrono::milliseconds timeout)
{
    auto& s = *impl_;
    s.buffer.clear();
    boost::system::error_code ec;
    try {
        ec = s.await([&](auto h) { s.ws.async_read(s.buffer, h); }, timeout, "read");
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (ec) {
        if (ec == websocket::error::closed) closeCode_ = static_cast<std::uint16_t>(s.ws.reason().code);
        return std::nullopt;
    }
    Message m;
    m.binary = s.ws.got_binary();
    m.data = beast::buffers_to_string(s.buffer.data());
    s.buffer.consume(s.buffer.size());
    return m;
}

void TlsClient::close(std::uint16_t code, std::chrono::milliseconds timeout)
{
    auto& s = *impl_;
    auto ec = s.await([&](auto h) { s.ws.async_close(websocket::close_reason(code), h); }, timeout, "close");
    if (ec) throw std::runtime_error("TlsClient: close failed: " + ec.message());
    closeCode_ = static_cast<std::uint16_t>(s.ws.reason().code);
}

}  // namespace wharf::test
