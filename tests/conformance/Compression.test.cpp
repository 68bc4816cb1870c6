// Section 9: permessage-deflate (RFC 7692). Negotiation answers (5, 7.1), declined
// offers (5.1: unknown, repeated or invalid parameters), compressed messages single and
// fragmented (6.1: RSV1 only on the first frame; 7.2), context takeover, a compression
// bomb stopped at the message limit, per-mapping settings.

#include "Conformance.hpp"

using namespace wharf;
using namespace wharf::conformance;

namespace {

constexpr const char* S = "conformance.compression";

Tune deflateOn(DeflateOptions o = {}, std::size_t maxMessage = 64 * 1024)
{
    o.enabled = true;
    return [o, maxMessage](WebSocketServletFactory& f) {
        f.setDeflateOptions(o);
        f.setMaxMessageSize(maxMessage);
    };
}

DeflateOptions everything()
{
    DeflateOptions o;
    o.threshold = 0;  // compress every reply so the client-side inflate is exercised
    return o;
}

std::optional<std::string> negotiated(EchoServer& s, const std::string& offerLines)
{
    RawClient c(s.port());
    const auto r = c.handshake("/echo", offerLines);
    REQUIRE(r.status == 101);
    return r.header("Sec-WebSocket-Extensions");
}

/// Sends a compressed message (RSV1 on the first frame), split into `parts` frames.
void sendCompressed(RawClient& c, std::uint8_t op, const std::string& deflated, std::size_t parts = 1,
                    bool emptyLast = false)
{
    std::string frames;
    const std::size_t step = (deflated.size() + parts - 1) / std::max<std::size_t>(parts, 1);
    std::size_t at = 0;
    for (std::size_t i = 0; i < parts; ++i) {
        const auto piece = deflated.substr(std::min(at, deflated.size()), step);
        at += step;
        const bool last = i + 1 == parts && !emptyLast;
        frames += RawClient::buildFrame(i == 0 ? op : 0x0, piece, last, true, i == 0 ? 0x40 : 0);
    }
    if (emptyLast) frames += RawClient::buildFrame(0x0, "", true);
    c.sendRaw(frames);
}

void expectMessage(RawClient& c, ClientInflate& inflater, std::uint8_t op, const std::string& payload,
                   bool compressed = true)
{
    auto m = readMessage(c, &inflater);
    REQUIRE(m);
    CHECK(int(m->opcode) == int(op));
    CHECK(m->rsv1 == compressed);
    CHECK(m->payload.size() == payload.size());
    CHECK(m->payload == payload);
}

CONFORMANCE_TABLE(negotiationCases)
{
    const std::string pmd = "permessage-deflate";
    // {offer, expected answer ("" = declined: the handshake succeeds without the extension)}
    const std::vector<std::pair<std::string, std::string>> offers = {
        {pmd, pmd},
        {pmd + "; server_no_context_takeover", pmd + "; server_no_context_takeover"},
        {pmd + "; client_no_context_takeover", pmd},
        {pmd + "; server_max_window_bits=10", pmd + "; server_max_window_bits=10"},
        {pmd + "; server_max_window_bits=9", pmd + "; server_max_window_bits=9"},
        {pmd + "; server_max_window_bits=15", pmd + "; server_max_window_bits=15"},
        {pmd + "; server_max_window_bits=\"12\"", pmd + "; server_max_window_bits=12"},
        {pmd + "; client_max_window_bits", pmd},
        {pmd + "; client_max_window_bits=8", pmd},
        {pmd + "; client_max_window_bits=15", pmd},
        {pmd + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; "
               "client_max_window_bits",
         pmd + "; server_no_context_takeover; server_max_window_bits=11"},
        {pmd + ";server_no_context_takeover;client_max_window_bits=9", pmd + "; server_no_context_takeover"},
        // Declined offers.
        {pmd + "; foo", ""},
        {pmd + "; foo=1", ""},
        {pmd + "; server_no_context_takeover; server_no_context_takeover", ""},
        {pmd + "; client_no_context_takeover; client_no_context_takeover", ""},
        {pmd + "; server_max_window_bits=10; server_max_window_bits=10", ""},
        {pmd + "; client_max_window_bits; client_max_window_bits=10", ""},
        {pmd + "; server_no_context_takeover=1", ""},
        {pmd + "; client_no_context_takeover=true", ""},
        {pmd + "; server_max_window_bits", ""},
        {pmd + "; server_max_window_bits=7", ""},
        {pmd + "; server_max_window_bits=8", ""},  // zlib cannot deflate with a 256-byte window
        {pmd + "; server_max_window_bits=16", ""},
        {pmd + "; server_max_window_bits=abc", ""},
        {pmd + "; server_max_window_bits=010", ""},
        {pmd + "; server_max_window_bits=0", ""},
        {pmd + "; server_max_window_bits=-9", ""},
        {pmd + "; client_max_window_bits=7", ""},
        {pmd + "; client_max_window_bits=16", ""},
        {pmd + "; client_max_window_bits=abc", ""},
        {pmd + "; client_max_window_bits=09", ""},
        {"x-webkit-deflate-frame", ""},
        // A valid offer after declined ones is taken.
        {pmd + "; foo, " + pmd, pmd},
        {pmd + "; server_max_window_bits=7, " + pmd + "; server_max_window_bits=12", pmd + "; server_max_window_bits=12"},
        {"x-unknown, " + pmd + "; server_no_context_takeover", pmd + "; server_no_context_takeover"},
    };
    for (const auto& [offer, answer] : offers) {
        CONFORMANCE_ADD(S, "offer [" + offer + "] is answered with [" + (answer.empty() ? "nothing" : answer) + "]",
                        [offer = offer, answer = answer] {
                            EchoServer s(deflateOn());
                            RawClient c(s.port());
                            const auto r = c.handshake("/echo", "Sec-WebSocket-Extensions: " + offer + "\r\n");
                            REQUIRE(r.status == 101);
                            const auto got = r.header("Sec-WebSocket-Extensions");
                            if (answer.empty()) CHECK(!got);
                            else CHECK(got.value_or("<none>") == answer);
                            expectHealthy(c);
                        });
    }
    CONFORMANCE_ADD(S, "offers over two header lines: the first acceptable is taken", [] {
        EchoServer s(deflateOn());
        CHECK(negotiated(s, "Sec-WebSocket-Extensions: permessage-deflate; bogus\r\n"
                            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=13\r\n")
                  .value_or("") == "permessage-deflate; server_max_window_bits=13");
    });
    CONFORMANCE_ADD(S, "factory serverNoContextTakeover and clientNoContextTakeover are announced", [] {
        DeflateOptions o;
        o.serverNoContextTakeover = true;
        o.clientNoContextTakeover = true;
        EchoServer s(deflateOn(o));
        CHECK(negotiated(s, "Sec-WebSocket-Extensions: permessage-deflate\r\n").value_or("") ==
              "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    });
    CONFORMANCE_ADD(S, "factory windowBits caps the offered server_max_window_bits", [] {
        DeflateOptions o;
        o.windowBits = 10;
        EchoServer s(deflateOn(o));
        CHECK(negotiated(s, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\n").value_or("") ==
              "permessage-deflate; server_max_window_bits=10");
        CHECK(negotiated(s, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n").value_or("") ==
              "permessage-deflate; server_max_window_bits=9");
    });
    CONFORMANCE_ADD(S, "deflate disabled: the offer is declined and RSV1 fails with 1002", [] {
        EchoServer s;
        RawClient c(s.port());
        const auto r = c.handshake("/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        REQUIRE(r.status == 101);
        CHECK(!r.header("Sec-WebSocket-Extensions"));
        ClientDeflate d;
        sendCompressed(c, 0x1, d.compress("hello"));
        expectClose(c, 1002);
    });
    CONFORMANCE_ADD(S, "deflate on in one mapping and off in another of the same context", [] {
        TestServer server(
            [](ServletContextHandler& context) {
                context.addWebSocket("/ws/*", [](WebSocketServletFactory& f) {
                    f.setPermessageDeflate(true);
                    f.addMapping<EchoListener>("/ws/on");
                    f.setPermessageDeflate(false);
                    f.addMapping<EchoListener>("/ws/off");
                });
            },
            serverThreads());
        const std::string offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
        RawClient on(server.port());
        auto r = on.handshake("/ws/on", offer);
        REQUIRE(r.status == 101);
        CHECK(r.header("Sec-WebSocket-Extensions").value_or("") == "permessage-deflate");
        RawClient off(server.port());
        r = off.handshake("/ws/off", offer);
        REQUIRE(r.status == 101);
        CHECK(!r.header("Sec-WebSocket-Extensions"));
        expectHealthy(on);
        expectHealthy(off);
    });
}

CONFORMANCE_TABLE(compressedMessageCases)
{
    const std::string offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    for (std::size_t n : {0u, 1u, 16u, 125u, 1000u, 16384u, 65536u}) {
        for (std::uint8_t op : {std::uint8_t(0x1), std::uint8_t(0x2)}) {
            CONFORMANCE_ADD(S, std::string("compressed ") + (op == 1 ? "text" : "binary") + " of " + std::to_string(n) +
                                   " bytes is echoed compressed",
                            [n, op, offer] {
                                EchoServer s(deflateOn(everything()));
                                auto c = s.open(offer);
                                ClientDeflate d;
                                ClientInflate i;
                                const auto payload = op == 1 ? letters(n) : pattern(n);
                                sendCompressed(c, op, d.compress(payload));
                                expectMessage(c, i, op, payload);
                                closeNormally(c);
                            });
        }
    }
    for (std::size_t parts : {2u, 3u, 10u}) {
        CONFORMANCE_ADD(S, "compressed text in " + std::to_string(parts) + " fragments (RSV1 on the first) is echoed",
                        [parts, offer] {
                            EchoServer s(deflateOn(everything()));
                            auto c = s.open(offer);
                            ClientDeflate d;
                            ClientInflate i;
                            const auto payload = letters(5000) + pattern(3000);
                            const auto text = letters(8000);
                            sendCompressed(c, 0x1, d.compress(text), parts);
                            expectMessage(c, i, 0x1, text);
                            sendCompressed(c, 0x2, d.compress(payload), parts);
                            expectMessage(c, i, 0x2, payload);
                            closeNormally(c);
                        });
    }
    CONFORMANCE_ADD(S, "compressed message ending in an empty final fragment, then another message", [offer] {
        EchoServer s(deflateOn(everything()));
        auto c = s.open(offer);
        ClientDeflate d;
        ClientInflate i;
        for (int round = 0; round < 3; ++round) {
            CAPTURE(round);
            const auto text = "round " + std::to_string(round) + " " + letters(200);
            sendCompressed(c, 0x1, d.compress(text), 2, true);
            expectMessage(c, i, 0x1, text);
        }
        closeNormally(c);
    });
    CONFORMANCE_ADD(S, "context takeover: 20 similar messages on one compressor are echoed", [offer] {
        EchoServer s(deflateOn(everything()));
        auto c = s.open(offer);
        ClientDeflate d;
        ClientInflate i;
        std::size_t firstSize = 0, laterSize = 0;
        for (int k = 0; k < 20; ++k) {
            const auto text = "{\"type\":\"update\",\"seq\":" + std::to_string(k) + ",\"body\":\"" + letters(300) + "\"}";
            const auto z = d.compress(text);
            (k == 0 ? firstSize : laterSize) = z.size();
            sendCompressed(c, 0x1, z);
            expectMessage(c, i, 0x1, text);
        }
        CHECK(laterSize < firstSize);  // the shared window really was used
        closeNormally(c);
    });
    CONFORMANCE_ADD(S, "client_no_context_takeover: a client resetting per message is understood", [] {
        EchoServer s(deflateOn(everything()));
        auto c = s.open("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n");
        ClientDeflate d(15, true);
        ClientInflate i;
        for (int k = 0; k < 5; ++k) {
            const auto text = "message " + letters(500);
            sendCompressed(c, 0x1, d.compress(text));
            expectMessage(c, i, 0x1, text);
        }
        closeNormally(c);
    });
    CONFORMANCE_ADD(S, "server_no_context_takeover: every reply inflates on its own", [] {
        EchoServer s(deflateOn(everything()));
        auto c = s.open("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n");
        ClientDeflate d;
        for (int k = 0; k < 5; ++k) {
            ClientInflate fresh;  // no history: fails if the server kept its context
            const auto text = "same text every time " + letters(400);
            sendCompressed(c, 0x1, d.compress(text));
            expectMessage(c, fresh, 0x1, text);
        }
        closeNormally(c);
    });
    CONFORMANCE_ADD(S, "server_max_window_bits=9 replies inflate and windowBits/memLevel settings work", [] {
        DeflateOptions o = everything();
        o.windowBits = 9;
        o.memLevel = 1;
        EchoServer s(deflateOn(o));
        auto c = s.open("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n");
        ClientDeflate d(9);
        ClientInflate i;
        for (int k = 0; k < 3; ++k) {
            const auto text = pattern(200, 3) + letters(3000) + pattern(200, 3);
            const auto bin = pattern(20000, unsigned(k));
            sendCompressed(c, 0x2, d.compress(text));
            expectMessage(c, i, 0x2, text);
            sendCompressed(c, 0x2, d.compress(bin));
            expectMessage(c, i, 0x2, bin);
        }
        closeNormally(c);
    });
    CONFORMANCE_ADD(S, "replies below the threshold go uncompressed", [offer] {
        EchoServer s(deflateOn());  // default threshold 64
        auto c = s.open(offer);
        ClientDeflate d;
        ClientInflate i;
        sendCompressed(c, 0x1, d.compress("short"));
        expectMessage(c, i, 0x1, "short", false);
        sendCompressed(c, 0x1, d.compress(letters(1000)));
        expectMessage(c, i, 0x1, letters(1000), true);
        closeNormally(c);
    });
    CONFORMANCE_ADD(S, "uncompressed messages interleave with compressed ones", [offer] {
        EchoServer s(deflateOn(everything()));
        auto c = s.open(offer);
        ClientDeflate d;
        ClientInflate i;
        c.sendText("plain one");
        expectMessage(c, i, 0x1, "plain one");
        sendCompressed(c, 0x1, d.compress("packed two"));
        expectMessage(c, i, 0x1, "packed two");
        c.sendFrame(0x1, "plain ", false);
        c.sendFrame(0x0, "three", true);
        expectMessage(c, i, 0x1, "plain three");
        closeNormally(c);
    });
    CONFORMANCE_ADD(S, "RSV1 on a continuation frame fails with 1002", [offer] {
        EchoServer s(deflateOn(everything()));
        auto c = s.open(offer);
        ClientDeflate d;
        const auto z = d.compress(letters(100));
        c.sendFrame(0x1, z.substr(0, 5), false, true, 0x40);
        c.sendFrame(0x0, z.substr(5), true, true, 0x40);
        expectClose(c, 1002);
    });
    for (std::uint8_t op : {std::uint8_t(0x9), std::uint8_t(0xA), std::uint8_t(0x8)}) {
        CONFORMANCE_ADD(S, "RSV1 on a control frame " + std::to_string(op) + " fails with 1002 even with deflate",
                        [op, offer] {
                            EchoServer s(deflateOn(everything()));
                            auto c = s.open(offer);
                            c.sendFrame(op, op == 0x8 ? std::string("\x03\xe8", 2) : std::string("x"), true, true, 0x40);
                            expectClose(c, 1002);
                        });
    }
    for (std::uint8_t rsv : {std::uint8_t(0x20), std::uint8_t(0x10), std::uint8_t(0x60)}) {
        CONFORMANCE_ADD(S, "RSV bits " + std::to_string(rsv >> 4) + " (not RSV1 alone) fail with 1002 with deflate",
                        [rsv, offer] {
                            EchoServer s(deflateOn(everything()));
                            auto c = s.open(offer);
                            ClientDeflate d;
                            c.sendFrame(0x1, d.compress("x"), true, true, rsv);
                            expectClose(c, 1002);
                        });
    }
    CONFORMANCE_ADD(S, "undecodable deflate data fails with 1007", [offer] {
        EchoServer s(deflateOn(everything()));
        auto c = s.open(offer);
        c.sendFrame(0x2, std::string("\xff\xff\xff\xff\xff\xff", 6), true, true, 0x40);
        expectClose(c, 1007);
    });
    CONFORMANCE_ADD(S, "compressed text that inflates to invalid UTF-8 fails with 1007", [offer] {
        EchoServer s(deflateOn(everything()));
        auto c = s.open(offer);
        ClientDeflate d;
        sendCompressed(c, 0x1, d.compress(letters(100) + "\xed\xa0\x80"));
        expectClose(c, 1007);
    });
    for (std::size_t parts : {1u, 4u}) {
        CONFORMANCE_ADD(S, "compression bomb of 10 MiB zeros in " + std::to_string(parts) +
                               " frame(s) fails with 1009 at a 64 KiB limit and the server stays healthy",
                        [parts, offer] {
                            EchoServer s(deflateOn(everything(), 64 * 1024));
                            {
                                auto c = s.open(offer);
                                ClientDeflate d;
                                const auto z = d.compress(std::string(10 << 20, '\0'));
                                CHECK(z.size() < 64 * 1024);
                                sendCompressed(c, 0x2, z, parts);
                                expectClose(c, 1009);
                            }
                            auto c = s.open(offer);
                            ClientDeflate d;
                            ClientInflate i;
                            sendCompressed(c, 0x1, d.compress("healthy"));
                            expectMessage(c, i, 0x1, "healthy");
                            closeNormally(c);
                        });
    }
    CONFORMANCE_ADD(S, "a compressed message inflating to exactly the limit is accepted", [offer] {
        EchoServer s(deflateOn(everything(), 64 * 1024));
        auto c = s.open(offer);
        ClientDeflate d;
        ClientInflate i;
        const std::string zeros(64 * 1024, '\0');
        sendCompressed(c, 0x2, d.compress(zeros));
        expectMessage(c, i, 0x2, zeros);
        sendCompressed(c, 0x2, d.compress(zeros + "x"));
        expectClose(c, 1009);
    });
}

}  // namespace
