#pragma once
// Configuration and path mappings of one WebSocket endpoint (Jetty's WebSocketServletFactory).

#include <wharf/Defaults.hpp>
#include <wharf/Upgrade.hpp>
#include <wharf/WebSocketListener.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace wharf {

namespace detail {
struct FactoryAccess;

template <class T>
inline constexpr bool isReferenceWrapper = !std::is_same_v<std::unwrap_reference_t<T>, T>;

/// Whether addMapping<L> may keep a copy of an argument deduced as A (forwarding
/// reference): a temporary or moved value (A is not an lvalue reference), a
/// std::ref/std::cref, a scalar (number, enum, pointer) or an array (a string literal).
/// A named object of class type is refused: nothing says whether the listener should
/// share it or get a copy.
template <class A>
inline constexpr bool storableMappingArgument =
    !std::is_lvalue_reference_v<A> || std::is_scalar_v<std::remove_cvref_t<A>> ||
    std::is_array_v<std::remove_reference_t<A>> || isReferenceWrapper<std::remove_cvref_t<A>>;

/// What L's constructor gets for a stored argument: the object a std::ref/std::cref names,
/// or the stored copy (const: it serves every connection).
template <class T>
decltype(auto) mappingArgument(const T& stored) noexcept
{
    if constexpr (isReferenceWrapper<T>) return stored.get();
    else return stored;
}
}  // namespace detail

/// Creates the listener of a new connection, or returns nullptr to refuse it (after
/// response.reject(status); with no reject, nullptr means 503). Runs on a server thread.
using WebSocketCreator =
    std::function<std::shared_ptr<WebSocketListener>(const UpgradeRequest&, UpgradeResponse&)>;

/// permessage-deflate (RFC 7692) settings.
struct DeflateOptions {
    bool enabled = false;  ///< off by default: each compressed connection costs ~300 KiB of zlib state
    int windowBits = defaults::deflateWindowBits;  ///< our compressor's LZ77 window, 9..15
    int memLevel = defaults::deflateMemLevel;      ///< zlib memLevel, 1..9
    std::size_t threshold = defaults::deflateThreshold;  ///< smaller messages go uncompressed
    bool serverNoContextTakeover = false;  ///< reset our compressor after every message
    bool clientNoContextTakeover = false;  ///< ask clients to reset theirs
};

/// The effective settings of one mapping (a copy of the factory's at addMapping time).
struct WebSocketPolicy {
    std::chrono::milliseconds idleTimeout = defaults::idleTimeout;
    std::size_t maxTextMessageSize = defaults::maxTextMessageSize;
    std::size_t maxBinaryMessageSize = defaults::maxBinaryMessageSize;
    std::size_t maxFrameSize = defaults::maxFrameSize;
    std::size_t maxSendQueueSize = defaults::maxSendQueueSize;
    std::chrono::milliseconds closeTimeout = defaults::closeTimeout;
    std::chrono::milliseconds messageTimeout = defaults::messageTimeout;
    std::chrono::milliseconds pingInterval = defaults::pingInterval;
    std::chrono::milliseconds pongTimeout = defaults::pongTimeout;
    bool resetIdleTimeoutOnSend = true;
    bool resetIdleTimeoutOnPong = false;
    DeflateOptions deflate;
    std::vector<std::string> allowedOrigins;  ///< patterns (setAllowedOrigins); empty: any origin
    bool allowMissingOrigin = false;          ///< with allowedOrigins: requests without Origin
    SlowSubscriberPolicy slowSubscriberPolicy = SlowSubscriberPolicy::Close;
    PublishDropListener publishDropListener;  ///< told of each message skipped under Drop
};

/// Set up inside ServletContextHandler::addWebSocket's configure callback: settings
/// first, then mappings; each mapping keeps the settings in force when it was added.
/// Mapping path specs are matched against the whole path in the context (not the part
/// after the servlet's spec), with the same syntax as servlet specs; no match answers 404.
/// Under addWebSocket("/rooms/*"), addMapping("/rooms/{room}", ...) binds "room" and
/// addMapping("/", ...) takes everything else that reached the servlet.
/// Thread-safety: configure before Server::start(); not safe to change afterwards.
class WebSocketServletFactory {
public:
    WebSocketServletFactory();
    ~WebSocketServletFactory();
    WebSocketServletFactory(const WebSocketServletFactory&) = delete;
    WebSocketServletFactory& operator=(const WebSocketServletFactory&) = delete;

    /// No traffic for this long closes the session with 1001 (0 = never). Traffic is what
    /// arrives from the peer except pongs (see setResetIdleTimeoutOnPong), and what the
    /// session writes to the socket except its keep-alive pings (see
    /// setResetIdleTimeoutOnSend). docs/websocket.md, "Timeouts and keep-alive".
    void setIdleTimeout(std::chrono::milliseconds timeout) { policy_.idleTimeout = timeout; }
    /// false: only what arrives counts for the idle timeout, so a client that stopped
    /// reading a feed is closed once the timeout passes (uWebSockets' resetIdleTimeoutOnSend).
    /// Default true: writes count too.
    void setResetIdleTimeoutOnSend(bool reset) { policy_.resetIdleTimeoutOnSend = reset; }
    /// true: the peer's pongs count for the idle timeout too, so a peer that answers the
    /// keep-alive pings is never idle. Default false: pings find dead peers, the idle
    /// timeout closes quiet ones.
    void setResetIdleTimeoutOnPong(bool reset) { policy_.resetIdleTimeoutOnPong = reset; }
    /// Keep-alive: when nothing arrived from the peer for this long, the session sends a
    /// ping (0 = never, the default). Overridable per session (Session::setPingInterval).
    void setPingInterval(std::chrono::milliseconds interval) { policy_.pingInterval = interval; }
    /// After a keep-alive ping, nothing from the peer (a pong or any other frame) for this
    /// long drops the TCP connection without a close frame: onError gets
    /// Errc::PongTimeout, then onClose 1006 (a dead peer cannot answer a close handshake).
    void setPongTimeout(std::chrono::milliseconds timeout) { policy_.pongTimeout = timeout; }
    /// Larger messages close the session with 1009 while they are still arriving.
    void setMaxTextMessageSize(std::size_t bytes) { policy_.maxTextMessageSize = bytes; }
    void setMaxBinaryMessageSize(std::size_t bytes) { policy_.maxBinaryMessageSize = bytes; }
    /// Sets both message limits and raises the frame limit to match.
    void setMaxMessageSize(std::size_t bytes);
    void setMaxFrameSize(std::size_t bytes) { policy_.maxFrameSize = bytes; }
    void setMaxSendQueueSize(std::size_t bytes) { policy_.maxSendQueueSize = bytes; }
    void setCloseTimeout(std::chrono::milliseconds timeout) { policy_.closeTimeout = timeout; }
    /// A message must be complete this long after its first frame arrived; otherwise the
    /// session closes with 1008 (0 = no limit; the idle timeout still applies).
    void setMessageTimeout(std::chrono::milliseconds timeout) { policy_.messageTimeout = timeout; }
    /// Turns permessage-deflate on or off with default parameters.
    void setPermessageDeflate(bool enabled) { policy_.deflate.enabled = enabled; }
    void setDeflateOptions(const DeflateOptions& options) { policy_.deflate = options; }
    /// Only browsers on these origins may connect (others get 403); empty (the default)
    /// allows any. A pattern is scheme://host[:port]: scheme and host compare without
    /// regard to case, a missing port is the scheme's default, port `*` is any port, and
    /// host `*.example.com` is any subdomain of example.com (not example.com itself);
    /// "null" allows the Origin browsers send from sandboxed or file: pages.
    /// Requests without an Origin are refused unless setAllowMissingOrigin(true).
    /// Throws std::invalid_argument naming a malformed pattern. docs/security.md, "Origins".
    void setAllowedOrigins(std::vector<std::string> patterns);
    /// With setAllowedOrigins: whether a request without an Origin header (a non-browser
    /// client; browsers always send one, RFC 6455 4.1) may connect. Default false.
    void setAllowMissingOrigin(bool allow) { policy_.allowMissingOrigin = allow; }
    /// What a publish does for a subscriber of this mapping whose send queue is full
    /// (Server::setTopicPolicy overrides it per topic); `dropped` is told of each message
    /// skipped under SlowSubscriberPolicy::Drop.
    void setSlowSubscriberPolicy(SlowSubscriberPolicy policy, PublishDropListener dropped = {})
    {
        policy_.slowSubscriberPolicy = policy;
        policy_.publishDropListener = std::move(dropped);
    }
    const WebSocketPolicy& policy() const noexcept { return policy_; }

    /// Maps a path spec to a creator. Throws std::invalid_argument for a malformed spec.
    void addMapping(std::string_view pathSpec, WebSocketCreator creator);
    /// Convenience: a creator that makes a new L for every connection, as
    /// `std::make_shared<L>(args...)` from copies of `args` kept in the mapping.
    /// To share an object with every listener (a registry, a chat room), pass std::ref(object)
    /// or std::cref(object): L's constructor then gets a reference to your object, which
    /// must outlive the server. Temporaries, moved values, numbers, pointers and string
    /// literals are copied into the mapping. A named object of class type (`registry`) does
    /// not compile: say std::ref(registry) to share it, or std::move / a copy to hand it over.
    /// Throws std::invalid_argument for a malformed spec.
    template <class L, class... Args>
    void addMapping(std::string_view pathSpec, Args&&... args)
    {
        static_assert(std::is_base_of_v<WebSocketListener, L>, "addMapping<L>: L must derive from WebSocketListener");
        static_assert((detail::storableMappingArgument<Args> && ...),
                      "addMapping<L>(spec, args...): an argument is a named object; pass std::ref(object) "
                      "(or std::cref) to share it with every listener, or std::move(object) / a copy to "
                      "give the mapping its own");
        static_assert(
            std::is_constructible_v<L, decltype(detail::mappingArgument(std::declval<const std::decay_t<Args>&>()))...>,
            "addMapping<L>(spec, args...): L has no constructor taking these arguments (an object passed "
            "with std::ref / std::cref arrives as a reference to it, any other as a const copy)");
        addMapping(pathSpec, [... stored = std::decay_t<Args>(std::forward<Args>(args))](const UpgradeRequest&,
                                                                                           UpgradeResponse&) {
            return std::make_shared<L>(detail::mappingArgument(stored)...);
        });
    }

private:
    friend struct detail::FactoryAccess;  // the WebSocket layer reads the mappings
    struct Impl;

    WebSocketPolicy policy_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace wharf
