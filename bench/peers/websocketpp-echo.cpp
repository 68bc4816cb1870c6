// websocketpp-echo: websocketpp 0.8 (Debian's libwebsocketpp-dev) echo server, a peer for
// wharf-bench. websocketpp queues outgoing messages and writes all queued ones in one
// gathered write. No permessage-deflate, logging off.
//
//   websocketpp-echo [--port 9003] [--threads 1]
//
// Listens on 127.0.0.1 only. Prints "websocketpp-echo: echoing at ws://127.0.0.1:PORT/".

#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>
#include <vector>

using Server = websocketpp::server<websocketpp::config::asio>;

int main(int argc, char** argv)
{
    unsigned short port = 9003;
    int threads = 1;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--port" && i + 1 < argc) port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else if (a == "--threads" && i + 1 < argc) threads = std::max(1, std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: websocketpp-echo [--port 9003] [--threads 1]\n");
            return 2;
        }
    }
    Server server;
    server.clear_access_channels(websocketpp::log::alevel::all);
    server.clear_error_channels(websocketpp::log::elevel::all);
    server.init_asio();
    server.set_reuse_addr(true);
    server.set_listen_backlog(4096);
    server.set_message_handler([&server](websocketpp::connection_hdl hdl, Server::message_ptr msg) {
        websocketpp::lib::error_code ec;
        server.send(hdl, msg->get_payload(), msg->get_opcode(), ec);
    });
    server.set_socket_init_handler([](websocketpp::connection_hdl, boost::asio::ip::tcp::socket& s) {
        boost::system::error_code ec;
        s.set_option(boost::asio::ip::tcp::no_delay(true), ec);
    });
    server.listen(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    websocketpp::lib::asio::error_code ec;
    const auto local = server.get_local_endpoint(ec);
    std::printf("websocketpp-echo: echoing at ws://127.0.0.1:%u/\n", local.port());
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
