#pragma once
// One HTTP/1.1 connection: read a request (with limits and timeouts), route it through
// the handler tree, write the response, keep alive, or, after a 101, hand the stream to
// what the response switches to (handler/ProtocolSwitch.hpp). Templated on the stream
// (plain TCP or TLS); each stream type is instantiated in one .cpp (PlainConnection.cpp,
// TlsConnection.cpp).

#include "detail/Format.hpp"
#include "detail/HttpText.hpp"
#include "detail/ServerState.hpp"
#include "handler/ProtocolSwitch.hpp"
#include "handler/RequestBuilder.hpp"

#include <wharf/Log.hpp>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <optional>
#include <string>

namespace wharf::detail {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using Strand = StrandPool::Strand;

/// Converts a parsed Beast request into a wharf Request. Returns what is wrong with it
/// (answered with 400), or an empty string.
std::string_view toRequest(http::request<http::string_body>&& in, Request& out);
/// Builds the Beast response header for `response` (status, fields, keep-alive).
void fillHeader(const Response& response, http::response_header<>& out, bool keepAlive);
/// What is wrong with how a request header frames its body: a status (400 or 501) and
/// why, or status 0 when the framing is sound. `chunked`: Beast's parser took the body as
/// chunked.
struct FramingError {
    int status = 0;
    std::string_view reason;
};
FramingError checkFraming(const http::request_header<>& header, bool chunked);
/// The status for a failed request read: 400, 408, 413 or 431.
int statusForReadError(const boost::system::error_code& ec);
/// Runs the handler tree (500 when it throws, 404 when nobody answers).
void route(ServerState& server, Request& request, Response& response);

/// The body of a file response (Response::setFile): exactly `size` bytes of an open file,
/// read with pread from offset 0, so the descriptor's own offset is never used. The size
/// is the one Content-Length announced: bytes the file gains later are not sent (they
/// would read as the next response on a kept-alive connection); a file that shrank ends
/// the write with http::error::short_read, and the connection closes.
struct FileBody {
    struct value_type {
        std::shared_ptr<const int> fd;
        std::uint64_t size = 0;
    };
    static std::uint64_t size(const value_type& body) noexcept { return body.size; }

    class writer {
    public:
        using const_buffers_type = boost::asio::const_buffer;
        template <bool isRequest, class Fields>
        writer(const http::header<isRequest, Fields>&, const value_type& body) : body_(body)
        {
        }
        void init(boost::system::error_code& ec) { ec = {}; }
        /// The next piece of the file; none when all `size` bytes went out or on error.
        boost::optional<std::pair<const_buffers_type, bool>> get(boost::system::error_code& ec);

    private:
        const value_type& body_;
        std::uint64_t sent_ = 0;
        char buffer_[16 * 1024];  // one TLS record's worth per read
    };
};

/// Derived (CRTP) provides: stream() -> the beast stream; secure(); shutdown();
/// startWebSocket(handoff, early) after the 101 is written: `handoff` is the response's
/// ProtocolSwitch, `early` the bytes read past the request.
template <class Derived>
class HttpSession : public Closable {
public:
    HttpSession(Strand strand, std::shared_ptr<ServerState> server, std::string remote)
        : strand_(std::move(strand)), server_(std::move(server)), remote_(std::move(remote)), requestTimer_(strand_)
    {
        server_->connections.opened(remote_);
    }
    ~HttpSession() override
    {
        // After an upgrade the socket is the WebSocket's, which reports its end itself.
        if (!upgraded_) server_->connections.closed(remote_);
    }

    void gracefulClose() override
    {
        boost::asio::post(strand_, [self = derived().shared_from_this()] {
            self->stopping_ = true;
            if (!self->busy_ && !self->upgraded_) self->derived().shutdown();
        });
    }

    void forceClose() override
    {
        boost::asio::post(strand_, [self = derived().shared_from_this()] {
            if (!self->upgraded_) self->derived().closeNow();
        });
    }

protected:
    Derived& derived() { return static_cast<Derived&>(*this); }

    /// Call once the transport is ready (after the TLS handshake for TLS).
    void startHttp()
    {
        registryId_ = server_->add(std::weak_ptr<Closable>(derived().shared_from_this()));
        waitForRequest();
    }

    void unregister()
    {
        if (registryId_) server_->remove(registryId_);
        registryId_ = 0;
    }

    // Waits for the first byte of the next request under the keep-alive timeout, then
    // reads the whole request under the request timeout (slowloris guard).
    void waitForRequest()
    {
        if (stopping_ || server_->stopping.load()) return derived().shutdown();
        if (buffer_.size() > 0) return readRequest();
        beast::get_lowest_layer(derived().stream())
            .expires_after(firstRequest_ ? server_->limits.requestTimeout : server_->limits.keepAliveTimeout);
        derived().stream().async_read_some(
            buffer_.prepare(1024),
            [self = derived().shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                self->buffer_.commit(n);
                if (ec) return self->derived().shutdown();  // idle, closed or timed out: no answer owed
                self->readRequest();
            });
    }

    void readRequest()
    {
        firstRequest_ = false;
        busy_ = true;
        requestStart_ = std::chrono::steady_clock::now();
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(server_->limits.maxHeaderSize));
        parser_->body_limit(server_->limits.maxBodySize);
        // Our own timer rather than the stream's expiry: Beast's timeout closes the socket,
        // and a slow request is owed a 408 (RFC 9110 15.5.9) before we close.
        beast::get_lowest_layer(derived().stream()).expires_never();
        timedOut_ = false;
        requestTimer_.expires_after(server_->limits.requestTimeout);
        requestTimer_.async_wait([self = derived().shared_from_this()](const boost::system::error_code& ec) {
            if (ec) return;
            self->timedOut_ = true;
            boost::system::error_code ignored;
            beast::get_lowest_layer(self->derived().stream()).socket().cancel(ignored);
        });
        // The header first: its framing is checked before any byte of the body is read.
        http::async_read_header(derived().stream(), buffer_, *parser_,
                                [self = derived().shared_from_this()](const boost::system::error_code& ec,
                                                                      std::size_t) { self->onHeader(ec); });
    }

    // RFC 9112 6.1 / 6.3 (request smuggling): Beast 1.81 frames a body by Content-Length,
    // or as empty, when the last transfer coding is not chunked, and keeps the connection;
    // the rest of the body would then be read as the next request. Such a request gets
    // 400 (501 for a coding wharf does not decode) and the connection is closed.
    void onHeader(const boost::system::error_code& ec)
    {
        if (ec || timedOut_) {
            requestTimer_.cancel();
            return onRead(timedOut_ ? beast::error::timeout : ec);
        }
        if (const auto bad = checkFraming(parser_->get(), parser_->chunked()); bad.status != 0) {
            requestTimer_.cancel();
            log::debug("http {}: bad request framing ({}): {}", remote_, bad.status, bad.reason);
            head_ = parser_->get().method() == http::verb::head;
            parser_.reset();
            Response response;
            response.sendError(bad.status, bad.reason);
            return writeResponse(response, false);
        }
        if (parser_->is_done()) {  // no body (most GETs): nothing more to read
            requestTimer_.cancel();
            return onRead({});
        }
        http::async_read(derived().stream(), buffer_, *parser_,
                         [self = derived().shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                             self->requestTimer_.cancel();
                             self->onRead(self->timedOut_ ? beast::error::timeout : ec);
                         });
    }

    void onRead(const boost::system::error_code& ec)
    {
        // The peer went away (EOF, reset, TLS truncation, ...): nobody to answer.
        // Only parse errors (Beast's HTTP category) and our timeout are owed a status.
        if (ec && ec != beast::error::timeout && ec.category() != http::make_error_code(http::error::need_more).category())
            return derived().shutdown();
        if (ec == http::error::end_of_stream) return derived().shutdown();
        Response response;
        bool keepAlive = false;
        Request request;
        if (ec) {
            const int status = statusForReadError(ec);
            log::debug("http {}: bad request ({}): {}", remote_, status, ec);
            response.sendError(status);
        } else {
            keepAlive = parser_->get().keep_alive();
            const bool head = parser_->get().method() == http::verb::head;
            if (const auto problem = toRequest(parser_->release(), request); !problem.empty()) {
                response.sendError(400, problem);
                keepAlive = false;
            } else if (isWebSocketUpgrade(request) && !(upgradeReserved_ = server_->beginUpgrade())) {
                // ConnectionLimits::maxSessions: refused before any servlet or creator runs.
                log::debug("http {}: upgrade refused: {} sessions open (ConnectionLimits::maxSessions)", remote_,
                           server_->webSocketCount.load());
                response.setHeader("Retry-After", server_->retryAfter);
                response.sendError(503, "too many WebSocket sessions; try again later");
            } else {
                RequestBuilder(request).setRemoteAddress(remote_).setSecure(derived().secure()).setServer(server_.get());
                route(*server_, request, response);
                server_->metrics.upgradeAnswered(request, response.status());
            }
            head_ = head;
        }
        parser_.reset();
        if (response.closeConnection() || stopping_ || server_->stopping.load()) keepAlive = false;
        if (auto handoff = ResponseAccess::takeSwitch(response))
            return writeUpgrade(response, std::move(handoff));
        releaseUpgrade();
        writeResponse(response, keepAlive);
    }

    /// Writes `response`, moving its string body into the write.
    void writeResponse(Response& response, bool keepAlive)
    {
        keepAlive_ = keepAlive;
        // A peer that does not read its response is dropped after the request timeout.
        beast::get_lowest_layer(derived().stream()).expires_after(server_->limits.requestTimeout);
        if (response.file() && !head_) {
            auto res = std::make_shared<http::response<FileBody>>();
            fillHeader(response, res->base(), keepAlive);
            res->body() = {response.file(), response.fileSize()};
            res->content_length(response.fileSize());
            return write(std::move(res));
        }
        auto res = std::make_shared<http::response<http::string_body>>();
        fillHeader(response, res->base(), keepAlive);
        const std::uint64_t length = response.file() ? response.fileSize() : response.body().size();
        if (!head_) res->body() = ResponseAccess::takeBody(response);
        const int status = response.status();
        if (status != 204 && status != 304 && !(status >= 100 && status < 200)) res->content_length(length);
        write(std::move(res));
    }

    template <class Message>
    void write(std::shared_ptr<Message> res)
    {
        http::async_write(derived().stream(), *res,
                          [self = derived().shared_from_this(), res](const boost::system::error_code& ec, std::size_t) {
                              self->onWrite(ec);
                          });
    }

    void onWrite(const boost::system::error_code& ec)
    {
        busy_ = false;
        head_ = false;
        if (ec || !keepAlive_) return derived().shutdown();
        waitForRequest();
    }

    void writeUpgrade(const Response& response, std::shared_ptr<ProtocolSwitch> handoff)
    {
        auto res = std::make_shared<http::response<http::string_body>>();
        fillHeader(response, res->base(), true);
        beast::get_lowest_layer(derived().stream()).expires_after(server_->limits.requestTimeout);
        http::async_write(derived().stream(), *res,
                          [self = derived().shared_from_this(), res, handoff = std::move(handoff)](
                              const boost::system::error_code& ec, std::size_t) mutable {
                              if (ec) {
                                  self->releaseUpgrade();
                                  return self->derived().shutdown();
                              }
                              self->server_->metrics.upgradeWritten(self->requestStart_);
                              beast::get_lowest_layer(self->derived().stream()).expires_never();
                              self->unregister();
                              self->upgraded_ = true;  // the stream belongs to the WebSocket now
                              const auto early = self->buffer_.data();
                              self->derived().startWebSocket(
                                  std::move(handoff),
                                  std::string_view(static_cast<const char*>(early.data()), early.size()));
                              self->releaseUpgrade();  // the session counts itself from here
                          });
    }

    static bool isWebSocketUpgrade(const Request& request)
    {
        bool found = false;
        for (auto value : request.headers().getAll("Upgrade"))
            forEachListElement(value, [&](std::string_view t) { found = found || iequals(t, "websocket"); });
        return found;
    }

    void releaseUpgrade()
    {
        if (std::exchange(upgradeReserved_, false)) server_->endUpgrade();
    }

    Strand strand_;
    std::shared_ptr<ServerState> server_;
    std::string remote_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::uint64_t registryId_ = 0;
    boost::asio::steady_timer requestTimer_;
    std::chrono::steady_clock::time_point requestStart_;  // the first byte of the request being handled
    bool timedOut_ = false;
    bool upgraded_ = false;
    bool firstRequest_ = true;
    bool busy_ = false;
    bool stopping_ = false;
    bool keepAlive_ = false;
    bool head_ = false;
    bool upgradeReserved_ = false;  // ServerState::beginUpgrade succeeded for this request
};

}  // namespace wharf::detail
