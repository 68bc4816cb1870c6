#pragma once
// Set-up shared by the websocketpp peers (websocketpp-echo, websocketpp-chat), so that
// they are configured alike: logging off, SO_REUSEADDR, a listen backlog of 4096, and
// TCP_NODELAY on every accepted plain (non-TLS) socket.

#include <boost/asio/ip/tcp.hpp>
#include <websocketpp/common/connection_hdl.hpp>
#include <websocketpp/logger/levels.hpp>

namespace peers {

template <class Server>
void initServer(Server& server)
{
    server.clear_access_channels(websocketpp::log::alevel::all);
    server.clear_error_channels(websocketpp::log::elevel::all);
    server.init_asio();
    server.set_reuse_addr(true);
    server.set_listen_backlog(4096);
}

/// Plain sockets only: websocketpp calls the socket_init handler after accept for them
/// (for TLS it runs before accept, too early; websocketpp-echo uses tcp_pre_init there).
template <class Server>
void noDelayOnAccept(Server& server)
{
    server.set_socket_init_handler([](websocketpp::connection_hdl, boost::asio::ip::tcp::socket& s) {
        boost::system::error_code ec;
        s.set_option(boost::asio::ip::tcp::no_delay(true), ec);
    });
}

}  // namespace peers
