// websocketpp-echo: websocketpp 0.8 (Debian's libwebsocketpp-dev) echo server, a peer for
// wharf-bench. websocketpp queues outgoing messages and writes all queued ones in one
// gathered write. No permessage-deflate, logging off.
//
//   websocketpp-echo [--port 9003] [--threads 1] [--tls-cert CERT.pem --tls-key KEY.pem]
//
// Listens on 127.0.0.1 only. Prints "websocketpp-echo: echoing at ws://127.0.0.1:PORT/",
// or wss:// with --tls-cert/--tls-key (websocketpp's asio_tls config: one OpenSSL context
// shared by all connections, TLS 1.2 and 1.3, OpenSSL's default ciphers).

#include <websocketpp/config/asio.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include "websocketpp-common.hpp"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

template <class Config>
int serve(unsigned short port, int threads, const std::string& cert, const std::string& key)
{
    using Server = websocketpp::server<Config>;
    constexpr bool tls = std::is_same_v<Config, websocketpp::config::asio_tls>;
    Server server;
    peers::initServer(server);
    server.set_message_handler([&server](websocketpp::connection_hdl hdl, typename Server::message_ptr msg) {
        websocketpp::lib::error_code ec;
        server.send(hdl, msg->get_payload(), msg->get_opcode(), ec);
    });
    if constexpr (tls) {
        namespace ssl = boost::asio::ssl;
        auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
        ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
        boost::system::error_code ec;
        ctx->use_certificate_chain_file(cert, ec);
        if (!ec) ctx->use_private_key_file(key, ssl::context::pem, ec);
        if (ec) {
            std::fprintf(stderr, "websocketpp-echo: cannot load %s / %s: %s\n", cert.c_str(), key.c_str(), ec.message().c_str());
            return 1;
        }
        server.set_tls_init_handler([ctx](websocketpp::connection_hdl) { return ctx; });
        // TCP_NODELAY once the socket is accepted (tcp_pre_init, before the TLS handshake).
        // The socket_init handler would be too early: websocketpp calls it before accept,
        // on a socket that is not open yet, and set_option then fails silently. Without
        // it the 101 response waits behind the session tickets (Nagle + delayed ACK, 40 ms).
        server.set_tcp_pre_init_handler([&server](websocketpp::connection_hdl hdl) {
            websocketpp::lib::error_code wec;
            boost::system::error_code e;
            if (auto con = server.get_con_from_hdl(hdl, wec))
                con->get_socket().lowest_layer().set_option(boost::asio::ip::tcp::no_delay(true), e);
        });
    } else {
        peers::noDelayOnAccept(server);
    }
    server.listen(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    websocketpp::lib::asio::error_code ec;
    const auto local = server.get_local_endpoint(ec);
    std::printf("websocketpp-echo: echoing at %s://127.0.0.1:%u/\n", tls ? "wss" : "ws", local.port());
    std::fflush(stdout);
    server.start_accept();

    boost::asio::signal_set signals(server.get_io_service(), SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { server.get_io_service().stop(); });

    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([&] { server.run(); });
    server.run();
    for (auto& t : pool) t.join();
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    unsigned short port = 9003;
    int threads = 1;
    std::string cert, key;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--port" && i + 1 < argc) port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else if (a == "--threads" && i + 1 < argc) threads = std::max(1, std::atoi(argv[++i]));
        else if (a == "--tls-cert" && i + 1 < argc) cert = argv[++i];
        else if (a == "--tls-key" && i + 1 < argc) key = argv[++i];
        else {
            std::fprintf(stderr, "usage: websocketpp-echo [--port 9003] [--threads 1] [--tls-cert CERT.pem --tls-key KEY.pem]\n");
            return 2;
        }
    }
    if (cert.empty() != key.empty()) {
        std::fprintf(stderr, "websocketpp-echo: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (!cert.empty()) return serve<websocketpp::config::asio_tls>(port, threads, cert, key);
    return serve<websocketpp::config::asio>(port, threads, cert, key);
}
