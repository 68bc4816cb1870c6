#include "protocol/DeflateOffer.hpp"

#include "ProtocolBytes.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace wharf;
using wharf::detail::checkDeflateAnswer;
using wharf::detail::DeflateOffer;

namespace {

detail::DeflateAnswer answer(std::string_view header, const DeflateOffer& offer = {})
{
    return checkDeflateAnswer({header}, offer);
}

}  // namespace

TEST_SUITE("protocol: client deflate negotiation") {

TEST_CASE("the offer names what was asked for")
{
    CHECK(detail::buildDeflateOffer({}) == "permessage-deflate; client_max_window_bits");
    DeflateOffer o;
    o.clientNoContextTakeover = true;
    o.serverNoContextTakeover = true;
    o.serverMaxWindowBits = 10;
    o.clientMaxWindowBits = 12;
    CHECK(detail::buildDeflateOffer(o) ==
          "permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=10; "
          "client_max_window_bits=12");
    o.offerClientMaxWindowBits = false;
    CHECK(detail::buildDeflateOffer(o).find("client_max_window_bits") == std::string::npos);
}

TEST_CASE("accepted answers give the parameters both sides use")
{
    auto none = checkDeflateAnswer({}, {});
    CHECK_FALSE(none.params);
    CHECK(none.error.empty());

    auto plain = answer("permessage-deflate");
    REQUIRE(plain.params);
    CHECK(plain.params->clientMaxWindowBits == 15);
    CHECK(plain.params->serverMaxWindowBits == 15);

    auto all = answer("Permessage-Deflate ; server_no_context_takeover; client_no_context_takeover; "
                      "server_max_window_bits=9; client_max_window_bits=\"10\"");
    REQUIRE(all.params);
    CHECK(all.error.empty());
    CHECK(all.params->serverNoContextTakeover);  // RFC 7692 7.1.1.1: allowed unasked
    CHECK(all.params->clientNoContextTakeover);
    CHECK(all.params->serverMaxWindowBits == 9);
    CHECK(all.params->clientMaxWindowBits == 10);

    DeflateOffer asked;
    asked.serverMaxWindowBits = 12;
    asked.clientNoContextTakeover = true;
    auto smaller = answer("permessage-deflate; server_max_window_bits=11", asked);
    REQUIRE(smaller.params);
    CHECK(smaller.params->serverMaxWindowBits == 11);
    CHECK(smaller.params->clientNoContextTakeover);  // we promised it
}

TEST_CASE("answers that fail the connection (RFC 6455 9.1, RFC 7692 7.1)")
{
    DeflateOffer noClientBits;
    noClientBits.offerClientMaxWindowBits = false;
    DeflateOffer askedServerBits;
    askedServerBits.serverMaxWindowBits = 10;
    DeflateOffer ourWindow12;
    ourWindow12.clientMaxWindowBits = 12;
    const std::pair<std::string_view, DeflateOffer> bad[] = {
        {"x-webkit-deflate-frame", {}},
        {"permessage-deflate, permessage-deflate", {}},
        {"permessage-deflate; foo", {}},
        {"permessage-deflate; server_no_context_takeover; server_no_context_takeover", {}},
        {"permessage-deflate; server_no_context_takeover=1", {}},
        {"permessage-deflate; client_no_context_takeover=yes", {}},
        {"permessage-deflate; server_max_window_bits", {}},
        {"permessage-deflate; server_max_window_bits=16", {}},
        {"permessage-deflate; server_max_window_bits=7", {}},
        {"permessage-deflate; server_max_window_bits=09", {}},
        {"permessage-deflate; server_max_window_bits=11", askedServerBits},
        {"permessage-deflate", askedServerBits},
        {"permessage-deflate; client_max_window_bits=10", noClientBits},
        {"permessage-deflate; client_max_window_bits", {}},
        {"permessage-deflate; client_max_window_bits=8", {}},
        {"permessage-deflate; client_max_window_bits=13", ourWindow12},
        {"permessage-deflate; client_max_window_bits=10; client_max_window_bits=10", {}},
        {"permessage-deflate; server_max_window_bits=10=10", {}},
    };
    for (const auto& [header, offer] : bad) {
        CAPTURE(header);
        auto a = answer(header, offer);
        CHECK_FALSE(a.params);
        CHECK_FALSE(a.error.empty());
    }
}

TEST_CASE("the server's answer to our offer passes our check, and messages flow both ways")
{
    DeflateOffer offer;
    offer.clientNoContextTakeover = true;
    offer.serverMaxWindowBits = 11;
    offer.clientMaxWindowBits = 13;
    DeflateOptions serverOptions;
    serverOptions.enabled = true;
    const auto request = detail::buildDeflateOffer(offer);
    auto negotiated = detail::negotiateDeflate({request}, serverOptions);
    REQUIRE(negotiated);
    auto checked = checkDeflateAnswer({negotiated->responseHeader}, offer);
    REQUIRE(checked.params);
    CHECK(checked.params->serverMaxWindowBits == negotiated->params.serverMaxWindowBits);
    CHECK(checked.params->clientNoContextTakeover);

    using namespace wharf::test;
    const std::string text = "round trip round trip round trip";
    // Client to server.
    auto clientDeflater = detail::deflaterFor(*checked.params, Role::Client);
    std::string compressed;
    REQUIRE(clientDeflater->compress(text, compressed));
    std::string toServer;
    FrameWriter(Role::Client).appendFrame(toServer, Opcode::Text, compressed, true, true);
    MessageAssembler server(Role::Server, {1 << 16, 1 << 16, 1 << 16}, &negotiated->params);
    auto atServer = assembleInPieces(server, toServer);
    REQUIRE_FALSE(atServer.failure);
    CHECK(atServer.events.at(0).data == text);
    // Server to client.
    auto serverDeflater = detail::deflaterFor(negotiated->params, Role::Server);
    REQUIRE(serverDeflater->compress(text, compressed));
    std::string toClient;
    FrameWriter(Role::Server).appendFrame(toClient, Opcode::Text, compressed, true, true);
    MessageAssembler client(Role::Client, {1 << 16, 1 << 16, 1 << 16}, &*checked.params);
    auto atClient = assembleInPieces(client, toClient);
    REQUIRE_FALSE(atClient.failure);
    CHECK(atClient.events.at(0).data == text);
}

}  // TEST_SUITE
