#pragma once
// The hand-off of a 101 (Switching Protocols) response. The layer that owns Request and
// Response owns it too: a servlet that answers 101 attaches what the connection becomes
// (the WebSocket layer's UpgradeAction), and the HTTP session that writes the 101 takes it
// and gives the connection to it. Neither side needs the other's headers, and users see
// only a private member of Response.

#include <wharf/Http.hpp>

#include <memory>
#include <string>
#include <utility>

namespace wharf::detail {

/// What a connection switches to after a 101. Opaque to the HTTP session, which only
/// carries it from the response to the protocol's stream (HttpSession<Derived>::startWebSocket).
class ProtocolSwitch {
public:
    virtual ~ProtocolSwitch() = default;

protected:
    ProtocolSwitch() = default;
    ProtocolSwitch(const ProtocolSwitch&) = default;
    ProtocolSwitch& operator=(const ProtocolSwitch&) = default;
};

/// The parts of Response that only the layers see.
struct ResponseAccess {
    /// Makes `response` a 101 that hands the connection to `next` once written.
    static void switchProtocols(Response& response, std::shared_ptr<ProtocolSwitch> next)
    {
        response.status_ = 101;
        response.switch_ = std::move(next);
    }
    /// Whether `response` is a 101 with a hand-off (a 101 without one is not final: 500).
    static bool switchesProtocols(const Response& response) noexcept
    {
        return response.status_ == 101 && response.switch_;
    }
    /// The hand-off, when the response is still a 101 (a handler around the servlet may have
    /// answered otherwise since); null otherwise. Leaves none behind.
    static std::shared_ptr<ProtocolSwitch> takeSwitch(Response& response)
    {
        auto next = std::move(response.switch_);
        return response.status_ == 101 ? std::move(next) : nullptr;
    }
    /// Moves the string body out (for the write of a response that is not used afterwards).
    static std::string takeBody(Response& response) { return std::move(response.body_); }
};

}  // namespace wharf::detail
