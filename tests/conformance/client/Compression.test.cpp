// permessage-deflate from the client's side (RFC 7692), with --deflate: the server's
// answer is honoured (context takeover or not, client_max_window_bits), compressed messages
// from the server are inflated, the client's echoes are compressed (RSV1 on the first
// frame only) and inflate to what was sent; RSV1 on a control frame or a continuation
// fails with 1002; an answer with a parameter the client cannot accept fails the handshake.
//
// The server side compresses with the suite's raw-deflate codec (Conformance.hpp's
// ClientDeflate / ClientInflate: named for the server suite, where the test plays the
// client; the codec is the same in both directions).

#include "conformance/client/ClientConformance.hpp"

using namespace wharf::conformance;
using namespace wharf::conformance::client;

namespace {

constexpr const char* S = "conformance.client.compression";

const std::vector<std::string> kDeflate = {"--deflate", "--max-message", "4194304"};

/// Text that compresses well, different for each seed.
std::string prose(std::size_t n, unsigned seed = 0)
{
    std::string s;
    while (s.size() < n) s += "message " + std::to_string(seed) + " of the deflate cases, line " + std::to_string(s.size() / 50) + "\n";
    s.resize(n);
    return s;
}

/// Opens with `answer` as the server's Sec-WebSocket-Extensions, after checking the offer.
void openDeflate(FakeServer& s, const std::string& answer)
{
    const auto& r = s.readRequest();
    const auto offer = r.header("Sec-WebSocket-Extensions");
    REQUIRE_MESSAGE(offer, "--deflate offered no extension");
    REQUIRE(offer->find("permessage-deflate") != std::string::npos);
    s.send(s.switchingProtocols("Sec-WebSocket-Extensions: " + answer + "\r\n"));
}

/// A compressed message from the server (RSV1 on the first frame), in `parts` frames.
void sendCompressed(FakeServer& s, std::uint8_t opcode, const std::string& deflated, std::size_t parts = 1)
{
    std::string bytes;
    const std::size_t step = (deflated.size() + parts - 1) / parts;
    for (std::size_t i = 0; i < parts; ++i)
        bytes += FakeServer::frame(i == 0 ? opcode : 0x0, deflated.substr(std::min(i * step, deflated.size()), step),
                                   i + 1 == parts, i == 0 ? 0x40 : 0);
    s.send(bytes);
}

/// The echo of `payload` is compressed and inflates (with `inflater`) to it.
void expectCompressedEcho(FakeServer& s, ClientInflate& inflater, std::uint8_t opcode, const std::string& payload)
{
    auto m = readMessage(s, kLargeWait);
    REQUIRE_MESSAGE(m, "no echo arrived");
    CHECK(int(m->opcode) == int(opcode));
    REQUIRE_MESSAGE(m->rsv1, "the echo is not compressed (RSV1 clear)");
    const auto inflated = inflater.inflateMessage(m->payload);
    CHECK(inflated.size() == payload.size());
    CHECK_MESSAGE(inflated == payload, "the echo inflates to something else");
}

/// Inflates one message with a `windowBits` window: fails on a distance beyond it.
bool inflatesWithWindow(std::string payload, int windowBits, std::string& out)
{
    z_stream z{};
    if (inflateInit2(&z, -windowBits) != Z_OK) return false;
    payload.append("\x00\x00\xff\xff", 4);
    z.next_in = reinterpret_cast<Bytef*>(payload.data());
    z.avail_in = static_cast<uInt>(payload.size());
    char buf[16384];
    int rc = Z_OK;
    while (rc == Z_OK && z.avail_in > 0) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_SYNC_FLUSH);
        out.append(buf, sizeof buf - z.avail_out);
    }
    inflateEnd(&z);
    return rc == Z_OK || rc == Z_BUF_ERROR || rc == Z_STREAM_END;
}

CONFORMANCE_TABLE(compressedEchoCases)
{
    struct Answer {
        const char* name;
        std::string header;
        bool serverResets;
    };
    const Answer answers[] = {
        {"permessage-deflate", "permessage-deflate", false},
        {"server_no_context_takeover", "permessage-deflate; server_no_context_takeover", true},
        {"server_max_window_bits=15 when not offered", "permessage-deflate; server_max_window_bits=15", false},
    };
    for (const auto& a : answers) {
        CONFORMANCE_ADD(S, std::string("RFC 7692 7.2: three compressed texts are echoed compressed (") + a.name + ")",
                        [a] {
                            FakeServer s(kDeflate);
                            openDeflate(s, a.header);
                            ClientDeflate deflater(15, a.serverResets);
                            ClientInflate inflater;
                            for (unsigned i = 0; i < 3; ++i) {
                                const auto text = prose(4000, i % 2);  // repeats: context takeover pays off
                                sendCompressed(s, 0x1, deflater.compress(text));
                                expectCompressedEcho(s, inflater, 0x1, text);
                            }
                            serverCloses(s);
                        });
    }
    CONFORMANCE_ADD(S, "RFC 7692 7.2: a compressed binary is echoed compressed", [] {
        FakeServer s(kDeflate);
        openDeflate(s, "permessage-deflate");
        ClientDeflate deflater;
        ClientInflate inflater;
        const auto data = prose(3000) + pattern(1000);
        sendCompressed(s, 0x2, deflater.compress(data));
        expectCompressedEcho(s, inflater, 0x2, data);
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 7692 6.1: a compressed text in 4 fragments (RSV1 on the first) is echoed", [] {
        FakeServer s(kDeflate);
        openDeflate(s, "permessage-deflate");
        ClientDeflate deflater;
        ClientInflate inflater;
        const auto text = prose(20000);
        sendCompressed(s, 0x1, deflater.compress(text), 4);
        expectCompressedEcho(s, inflater, 0x1, text);
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 7692 7.2: a 1 MiB compressed text is echoed compressed", [] {
        FakeServer s(kDeflate);
        openDeflate(s, "permessage-deflate");
        ClientDeflate deflater;
        ClientInflate inflater;
        const auto text = prose(1 << 20);
        sendCompressed(s, 0x1, deflater.compress(text));
        expectCompressedEcho(s, inflater, 0x1, text);
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 7692 6: an uncompressed text (RSV1 clear) is echoed with the same content", [] {
        FakeServer s(kDeflate);
        openDeflate(s, "permessage-deflate");
        ClientInflate inflater;
        s.sendFrame(0x1, prose(2000));
        auto m = readMessage(s);
        REQUIRE(m);
        CHECK((m->rsv1 ? inflater.inflateMessage(m->payload) : m->payload) == prose(2000));
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 7692 7.1.1.2: with client_no_context_takeover every echo inflates on its own", [] {
        FakeServer s(kDeflate);
        openDeflate(s, "permessage-deflate; client_no_context_takeover");
        ClientDeflate deflater;
        const auto text = prose(4000);
        for (int i = 0; i < 3; ++i) {
            sendCompressed(s, 0x1, deflater.compress(text));
            ClientInflate fresh;  // no context from the echoes before
            expectCompressedEcho(s, fresh, 0x1, text);
        }
        serverCloses(s);
    });
    CONFORMANCE_ADD(S, "RFC 7692 7.1.2.2: client_max_window_bits=10 is honoured if offered and refused if not", [] {
        FakeServer s(kDeflate);
        const auto& r = s.readRequest();
        const auto offer = r.header("Sec-WebSocket-Extensions").value_or("");
        REQUIRE(offer.find("permessage-deflate") != std::string::npos);
        s.send(s.switchingProtocols("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n"));
        if (offer.find("client_max_window_bits") == std::string::npos) {
            // 7.1.2.2: "the client MUST _Fail the WebSocket Connection_" for an answer it did not offer.
            expectHandshakeFailure(s);
            return;
        }
        ClientDeflate deflater;
        // 2 KiB of noise twice: a 32 KiB window would point 2048 bytes back, a 1 KiB one cannot.
        const auto noise = pattern(2048, 9);
        const auto data = noise + noise;
        sendCompressed(s, 0x2, deflater.compress(data));
        auto m = readMessage(s);
        REQUIRE(m);
        REQUIRE(m->rsv1);
        std::string inflated;
        CHECK_MESSAGE(inflatesWithWindow(m->payload, 10, inflated), "the echo uses a window over 2^10 bytes");
        CHECK(inflated == data);
        serverCloses(s);
    });
}

CONFORMANCE_TABLE(compressionFailureCases)
{
    CONFORMANCE_ADD(S, "RFC 7692 6: RSV1 on a ping fails with 1002", [] {
        FakeServer s(kDeflate);
        openDeflate(s, "permessage-deflate");
        s.sendFrame(0x9, "compressed?", true, 0x40);
        expectFailure(s, 1002);
    });
    CONFORMANCE_ADD(S, "RFC 7692 6.1: RSV1 on a continuation frame fails with 1002", [] {
        FakeServer s(kDeflate);
        openDeflate(s, "permessage-deflate");
        ClientDeflate deflater;
        const auto deflated = deflater.compress(prose(1000));
        s.send(FakeServer::frame(0x1, deflated.substr(0, 10), false, 0x40) +
               FakeServer::frame(0x0, deflated.substr(10), true, 0x40));
        expectFailure(s, 1002);
    });
    CONFORMANCE_ADD(S, "RFC 6455 5.2: RSV2 with deflate negotiated fails with 1002", [] {
        FakeServer s(kDeflate);
        openDeflate(s, "permessage-deflate");
        s.sendFrame(0x1, "Hello", true, 0x20);
        expectFailure(s, 1002);
    });
    CONFORMANCE_ADD(S, "RFC 7692 5: an answer with an unknown parameter fails the handshake", [] {
        FakeServer s(kDeflate);
        openDeflate(s, "permessage-deflate; x_unknown_parameter");
        expectHandshakeFailure(s);
    });
    CONFORMANCE_ADD(S, "RFC 7692 7.1.2.1: an answer with server_max_window_bits=16 fails the handshake", [] {
        FakeServer s(kDeflate);
        openDeflate(s, "permessage-deflate; server_max_window_bits=16");
        expectHandshakeFailure(s);
    });
    CONFORMANCE_ADD(S, "RFC 7692 7: permessage-deflate answered twice fails the handshake", [] {
        FakeServer s(kDeflate);
        openDeflate(s, "permessage-deflate, permessage-deflate");
        expectHandshakeFailure(s);
    });
}

}  // namespace
