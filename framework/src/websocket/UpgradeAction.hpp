#pragma once
// What endpoint negotiation hands the WebSocket engine: the hand-off a 101 carries
// (handler/ProtocolSwitch.hpp) when the connection becomes a WebSocket.

#include "detail/Deflate.hpp"
#include "handler/ProtocolSwitch.hpp"

#include <wharf/Upgrade.hpp>
#include <wharf/WebSocketListener.hpp>
#include <wharf/WebSocketServletFactory.hpp>

#include <memory>
#include <optional>

namespace wharf::detail {

/// Everything a new WebSocket connection needs, from negotiateEndpoint (EndpointNegotiation.hpp).
struct UpgradeAction final : ProtocolSwitch {
    std::shared_ptr<WebSocketListener> listener;
    std::shared_ptr<const UpgradeRequest> request;
    std::shared_ptr<const WebSocketPolicy> policy;
    std::optional<DeflateParams> deflate;

    /// The UpgradeAction a 101's hand-off is: the WebSocket servlet is the only servlet
    /// that attaches one (ResponseAccess::switchProtocols is not public).
    static UpgradeAction& of(ProtocolSwitch& handoff) noexcept { return static_cast<UpgradeAction&>(handoff); }
};

}  // namespace wharf::detail
