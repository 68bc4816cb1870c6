// websocketpp-chat: the chat protocol of samples/chat (wharf-chat) on websocketpp 0.8
// (Debian's libwebsocketpp-dev, asio without TLS), a peer for wharf-bench --mode fanout.
// The broadcast is websocketpp's idiomatic one, as in its broadcast_server example: a
// std::set of connection_hdl and server.send(hdl, text, opcode::text) per member, so
// websocketpp builds one frame (and copies the payload) per recipient.
//
//   websocketpp-chat [--port 8080] [--threads 1]
//
// Listens on 127.0.0.1; the chat's WebSocket is on any path (the bench uses /chat).
// Protocol as in samples/chat/ChatRoom.cpp: the first text is the client's name
// ("* name joined" to all), every later one goes to all members, the sender included, as
// "name: text"; "* name left" when a named member goes; binary messages are refused with
// 1003. Names are checked less strictly than wharf-chat does (only: not empty, not
// starting with '*'). No slow-consumer policy (websocketpp queues without a bound), no
// idle timeout, logging off, one thread. Prints "websocketpp-chat: open
// http://127.0.0.1:PORT/" once listening; SIGTERM/SIGINT stop it.

#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include "websocketpp-common.hpp"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

namespace {

using Server = websocketpp::server<websocketpp::config::asio>;
using Hdl = websocketpp::connection_hdl;

class Chat {
public:
    explicit Chat(Server& server) : server_(server)
    {
        server_.set_open_handler([this](Hdl h) { members_.insert(h); });
        server_.set_close_handler([this](Hdl h) { leave(h); });
        server_.set_fail_handler([this](Hdl h) { leave(h); });
        server_.set_message_handler([this](Hdl h, Server::message_ptr msg) { onMessage(h, msg); });
    }

private:
    void onMessage(Hdl h, const Server::message_ptr& msg)
    {
        websocketpp::lib::error_code ec;
        if (msg->get_opcode() != websocketpp::frame::opcode::text) {
            server_.close(h, websocketpp::close::status::unsupported_data, "this chat takes text messages only", ec);
            return;
        }
        const std::string& text = msg->get_payload();
        if (auto it = names_.find(h); it != names_.end()) return broadcast(it->second + ": " + text);
        if (text.empty() || text.front() == '*') {
            server_.send(h, "* name not accepted", websocketpp::frame::opcode::text, ec);
            return;
        }
        names_.emplace(h, text);
        broadcast("* " + text + " joined");
    }

    void leave(Hdl h)
    {
        members_.erase(h);
        auto it = names_.find(h);
        if (it == names_.end()) return;
        const std::string name = std::move(it->second);
        names_.erase(it);
        broadcast("* " + name + " left");
    }

    // One send per member: websocketpp frames the payload for each of them.
    void broadcast(const std::string& text)
    {
        websocketpp::lib::error_code ec;
        for (const auto& m : members_) server_.send(m, text, websocketpp::frame::opcode::text, ec);
    }

    Server& server_;
    std::set<Hdl, std::owner_less<Hdl>> members_;
    std::map<Hdl, std::string, std::owner_less<Hdl>> names_;
};

}  // namespace

int main(int argc, char** argv)
{
    unsigned short port = 8080;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--port" && i + 1 < argc) port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else if (a == "--threads" && i + 1 < argc) ++i;  // one thread; accepted for symmetry
        else {
            std::fprintf(stderr, "usage: websocketpp-chat [--port 8080]\n");
            return 2;
        }
    }
    Server server;
    peers::initServer(server);
    peers::noDelayOnAccept(server);
    Chat chat(server);
    server.listen(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    websocketpp::lib::asio::error_code ec;
    std::printf("websocketpp-chat: open http://127.0.0.1:%u/\n", server.get_local_endpoint(ec).port());
    std::fflush(stdout);
    server.start_accept();
    boost::asio::signal_set signals(server.get_io_service(), SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { server.get_io_service().stop(); });
    server.run();
    return 0;
}
