#include <wharf/Session.hpp>

#include "detail/WsConnection.hpp"

#include <algorithm>
#include <charconv>

namespace wharf {

namespace {

std::shared_ptr<const detail::PreparedFrame> prepare(detail::Opcode opcode, std::string_view payload)
{
    auto frame = std::make_shared<detail::PreparedFrame>();
    frame->bytes.reserve(payload.size() + 10);
    detail::appendFrame(frame->bytes, opcode, payload);
    frame->headerSize = frame->bytes.size() - payload.size();
    frame->text = opcode == detail::Opcode::Text;
    return frame;
}

std::string_view asChars(std::span<const std::byte> data) noexcept
{
    return {reinterpret_cast<const char*>(data.data()), data.size()};
}

/// Runs `f` on the live connection, or refuses with SessionClosed.
template <class F>
SendResult withConnection(const std::weak_ptr<detail::WsConnection>& weak, SendCallback& done, F&& f)
{
    if (auto c = weak.lock()) return f(*c);
    if (done) done(make_error_code(Errc::SessionClosed));
    return SendResult(Errc::SessionClosed);
}

}  // namespace

Message Message::text(std::string_view payload)
{
    Message m;
    m.frame_ = prepare(detail::Opcode::Text, payload);
    return m;
}

Message Message::binary(std::string_view payload)
{
    Message m;
    m.frame_ = prepare(detail::Opcode::Binary, payload);
    return m;
}

Message Message::binary(std::span<const std::byte> payload) { return binary(asChars(payload)); }

std::size_t Message::size() const noexcept { return frame_ ? frame_->payload().size() : 0; }
bool Message::isText() const noexcept { return frame_ && frame_->text; }
std::string_view Message::payload() const noexcept { return frame_ ? frame_->payload() : std::string_view(); }

Session::Session(std::shared_ptr<detail::WsConnection> connection)
    : connection_(connection), request_(connection->request()), id_(connection->id())
{
}

SendResult Session::sendText(std::string_view text, SendCallback done) const
{
    return withConnection(connection_, done,
                          [&](detail::WsConnection& c) { return c.sendData(detail::Opcode::Text, text, done); });
}

SendResult Session::sendBinary(std::string_view data, SendCallback done) const
{
    return withConnection(connection_, done,
                          [&](detail::WsConnection& c) { return c.sendData(detail::Opcode::Binary, data, done); });
}

SendResult Session::sendBinary(std::span<const std::byte> data, SendCallback done) const
{
    return sendBinary(asChars(data), std::move(done));
}

SendResult Session::send(const Message& message, SendCallback done) const
{
    const auto& frame = detail::MessageAccess::frame(message);
    if (!frame) {
        if (done) done(make_error_code(Errc::InvalidArgument));
        return SendResult(Errc::InvalidArgument);
    }
    return withConnection(connection_, done, [&](detail::WsConnection& c) { return c.sendPrepared(frame, done); });
}

SendResult Session::sendPing(std::string_view payload, SendCallback done) const
{
    return withConnection(connection_, done,
                          [&](detail::WsConnection& c) { return c.sendControl(detail::Opcode::Ping, payload, done); });
}

SendResult Session::sendPong(std::string_view payload, SendCallback done) const
{
    return withConnection(connection_, done,
                          [&](detail::WsConnection& c) { return c.sendControl(detail::Opcode::Pong, payload, done); });
}

void Session::close(CloseStatus status, std::string_view reason, CloseMode mode) const
{
    if (auto c = connection_.lock()) c->close(status, reason, mode);
}

void Session::suspend() const
{
    if (auto c = connection_.lock()) c->suspend();
}

void Session::resume() const
{
    if (auto c = connection_.lock()) c->resume();
}

void Session::disconnect() const
{
    if (auto c = connection_.lock()) c->disconnect();
}

bool Session::isOpen() const noexcept
{
    auto c = connection_.lock();
    return c && c->isOpen();
}

bool Session::subscribe(std::string_view topic) const
{
    auto c = connection_.lock();
    return c && c->subscribe(topic);
}

bool Session::subscribe(std::string_view topic, const TopicPosition& since) const
{
    auto c = connection_.lock();
    return c && c->subscribe(topic, &since);
}

std::string TopicPosition::toString() const
{
    return epoch + ':' + std::to_string(offset);
}

std::optional<TopicPosition> TopicPosition::parse(std::string_view text)
{
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    TopicPosition p;
    p.epoch = std::string(text.substr(0, colon));
    const bool alnum = std::all_of(p.epoch.begin(), p.epoch.end(), [](char ch) {
        return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
    });
    const auto digits = text.substr(colon + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p.offset);
    if (!alnum || digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return p;
}

bool Session::unsubscribe(std::string_view topic) const
{
    auto c = connection_.lock();
    return c && c->unsubscribe(topic);
}

bool Session::isSubscribed(std::string_view topic) const
{
    auto c = connection_.lock();
    return c && c->isSubscribed(topic);
}

std::vector<std::string> Session::topics() const
{
    auto c = connection_.lock();
    return c ? c->topics() : std::vector<std::string>();
}

std::size_t Session::publish(std::string_view topic, const Message& message) const
{
    auto c = connection_.lock();
    return c ? c->publish(topic, message) : 0;
}

void Session::publish(std::string_view topic, const Message& message, PublishHandler done) const
{
    if (auto c = connection_.lock()) c->publish(topic, message, std::move(done));
    else if (done) done(make_error_code(Errc::SessionClosed));
}

std::string Session::remoteAddress() const { return request_ ? std::string(request_->remoteAddress()) : std::string(); }

std::shared_ptr<const UpgradeRequest> Session::upgradeRequest() const { return request_; }

void Session::setIdleTimeout(std::chrono::milliseconds timeout) const
{
    if (auto c = connection_.lock()) c->setIdleTimeout(timeout);
}

void Session::setPingInterval(std::chrono::milliseconds interval) const
{
    if (auto c = connection_.lock()) c->setPingInterval(interval);
}

std::size_t Session::bufferedAmount() const noexcept
{
    auto c = connection_.lock();
    return c ? c->bufferedAmount() : 0;
}

}  // namespace wharf
