// beast-echo: a bare Boost.Beast WebSocket echo server, the baseline peer for wharf-bench.
// As in Beast's own async example: a strand per connection, one message read, then one
// async_write of it, then the next read (Beast allows one write in flight). No
// permessage-deflate.
//
//   beast-echo [--port 9002] [--threads 1]
//
// Listens on 127.0.0.1 only. Prints "beast-echo: echoing at ws://127.0.0.1:PORT/".

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

class Session : public std::enable_shared_from_this<Session> {
public:
    explicit Session(tcp::socket&& socket) : ws_(std::move(socket)) {}

    void run()
    {
        net::dispatch(ws_.get_executor(), beast::bind_front_handler(&Session::onRun, shared_from_this()));
    }

private:
    void onRun()
    {
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.read_message_max(64 * 1024 * 1024);
        beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true));
        ws_.async_accept(beast::bind_front_handler(&Session::onAccept, shared_from_this()));
    }

    void onAccept(beast::error_code ec)
    {
        if (ec) return;
        doRead();
    }

    void doRead() { ws_.async_read(buffer_, beast::bind_front_handler(&Session::onRead, shared_from_this())); }

    void onRead(beast::error_code ec, std::size_t)
    {
        if (ec) return;  // closed, or error: the session ends
        ws_.text(ws_.got_text());
        ws_.async_write(buffer_.data(), beast::bind_front_handler(&Session::onWrite, shared_from_this()));
    }

    void onWrite(beast::error_code ec, std::size_t)
    {
        if (ec) return;
        buffer_.consume(buffer_.size());
        doRead();
    }

    websocket::stream<beast::tcp_stream> ws_;
    beast::flat_buffer buffer_;
};

class Listener : public std::enable_shared_from_this<Listener> {
public:
    Listener(net::io_context& ioc, tcp::endpoint endpoint) : ioc_(ioc), acceptor_(net::make_strand(ioc))
    {
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        acceptor_.bind(endpoint);
        acceptor_.listen(net::socket_base::max_listen_connections);
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    void run() { doAccept(); }

private:
    void doAccept()
    {
        acceptor_.async_accept(net::make_strand(ioc_), beast::bind_front_handler(&Listener::onAccept, shared_from_this()));
    }

    void onAccept(beast::error_code ec, tcp::socket socket)
    {
        if (!ec) std::make_shared<Session>(std::move(socket))->run();
        doAccept();
    }

    net::io_context& ioc_;
    tcp::acceptor acceptor_;
};

}  // namespace

int main(int argc, char** argv)
{
    unsigned short port = 9002;
    int threads = 1;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--port" && i + 1 < argc) port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else if (a == "--threads" && i + 1 < argc) threads = std::max(1, std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: beast-echo [--port 9002] [--threads 1]\n");
            return 2;
        }
    }
    net::io_context ioc(threads);
    auto listener = std::make_shared<Listener>(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    std::printf("beast-echo: echoing at ws://127.0.0.1:%u/\n", listener->port());
    std::fflush(stdout);
    listener->run();

    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](beast::error_code, int) { ioc.stop(); });

    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : pool) t.join();
    return 0;
}
