#pragma once
// The listener most tests serve: every text and binary message goes straight back.

#include <wharf/wharf.hpp>

namespace wharf::test {

class EchoListener : public WebSocketAdapter {
public:
    void onText(std::string_view m) override { getSession().sendText(m); }
    void onBinary(std::span<const std::byte> m) override { getSession().sendBinary(m); }
};

}  // namespace wharf::test
