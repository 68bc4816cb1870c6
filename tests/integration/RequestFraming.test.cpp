// How a request's header frames its body (RFC 9112 6), over a raw socket with the exact
// bytes of request smuggling attempts: a request whose framing is ambiguous gets 400 (or
// 501) and the connection is closed, so bytes after it are never read as a request.

#include "support/RawClient.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <string>

using namespace wharf;
using namespace wharf::test;

namespace {

/// Answers every path with the size of the body it got, and counts requests for
/// "/smuggled-admin" (which only a smuggled request would ask for).
class CountingServlet : public HttpServlet {
public:
    void doGet(Request& request, Response& response) override { answer(request, response); }
    void doPost(Request& request, Response& response) override { answer(request, response); }
    std::atomic<int> smuggled{0};

private:
    void answer(Request& request, Response& response)
    {
        if (request.path() == "/smuggled-admin") ++smuggled;
        response.setBody("got " + std::to_string(request.body().size()));
    }
};

/// The request that must never be answered: it rides in the body of the first one.
constexpr std::string_view smuggledRequest = "GET /smuggled-admin HTTP/1.1\r\nHost: x\r\n\r\n";

/// Sends `bytes`, expects one response with `status`, then the connection's end, and
/// checks that no smuggled request reached the servlet.
void expectRejectedAndClosed(std::string_view bytes, int status = 400)
{
    auto servlet = std::make_shared<CountingServlet>();
    TestServer server([&](ServletContextHandler& c) { c.addServlet("/*", servlet); });
    RawClient client(server.port());
    client.sendRaw(bytes);
    const auto r = client.readResponse();
    CHECK(r.status == status);
    CHECK(r.header("Connection") == "close");
    CHECK(client.waitForEof());  // a second response would not be EOF
    CHECK(servlet->smuggled.load() == 0);
}

}  // namespace

TEST_SUITE("http framing")
{
    TEST_CASE("a Transfer-Encoding that does not end in chunked gets 400 and the connection closes")
    {
        // Beast 1.81 ignores such a Transfer-Encoding and frames by Content-Length (or
        // as bodiless): the rest of the chunked body would then be read as a new request.
        const std::string chunk = "0\r\n\r\n";
        for (const std::string te : {"chunked, identity", "xchunked", "gzip", "chunked;a=b", ","}) {
            CAPTURE(te);
            // With a Content-Length that ends the body after the last chunk, and without.
            expectRejectedAndClosed("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te +
                                    "\r\nContent-Length: " + std::to_string(chunk.size()) + "\r\n\r\n" + chunk +
                                    std::string(smuggledRequest));
            expectRejectedAndClosed("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te + "\r\n\r\n" +
                                    std::string(smuggledRequest));
        }
    }

    TEST_CASE("a chunk that carries a request is body, never a request of its own")
    {
        // The review's case: "chunked, identity" plus a Content-Length that ends the body
        // before the chunk holding "GET /smuggled-admin".
        const std::string chunkData = "x\r\n" + std::string(smuggledRequest);
        char size[16];
        std::snprintf(size, sizeof size, "%zx", chunkData.size());
        expectRejectedAndClosed("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n"
                                "Content-Length: 3\r\n\r\n" + std::string(size) + "\r\n" + chunkData + "\r\n0\r\n\r\n");
    }

    TEST_CASE("Transfer-Encoding on an HTTP/1.0 request gets 400 and the connection closes")
    {
        // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
        expectRejectedAndClosed("POST /upload HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "5\r\nhello\r\n0\r\n\r\n" + std::string(smuggledRequest));
    }

    TEST_CASE("Transfer-Encoding together with Content-Length gets 400 and the connection closes")
    {
        // RFC 9112 6.3 item 3: such a message ought to be handled as an error, and the
        // connection MUST be closed after the response.
        SUBCASE("Transfer-Encoding first")
        {
            expectRejectedAndClosed("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                    "Content-Length: 5\r\n\r\n0\r\n\r\n" + std::string(smuggledRequest));
        }
        SUBCASE("Content-Length first")
        {
            expectRejectedAndClosed("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + std::string(smuggledRequest));
        }
    }

    TEST_CASE("Content-Length values that differ get 400 and the connection closes")
    {
        // RFC 9112 6.3 item 5: an invalid Content-Length is an unrecoverable framing error.
        SUBCASE("two fields")
        {
            expectRejectedAndClosed("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                    "Content-Length: 6\r\n\r\nhello!" + std::string(smuggledRequest));
        }
        SUBCASE("one list")
        {
            expectRejectedAndClosed("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!" +
                                    std::string(smuggledRequest));
        }
        SUBCASE("not a number")
        {
            expectRejectedAndClosed("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello" +
                                    std::string(smuggledRequest));
        }
    }

    TEST_CASE("a transfer coding other than chunked gets 501 and the connection closes")
    {
        // RFC 9112 6.1: a coding the server does not understand; wharf decodes only chunked.
        expectRejectedAndClosed("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                                "5\r\nhello\r\n0\r\n\r\n" + std::string(smuggledRequest), 501);
    }

    TEST_CASE("well-framed bodies keep the connection: chunked, and repeated equal Content-Lengths")
    {
        auto servlet = std::make_shared<CountingServlet>();
        TestServer server([&](ServletContextHandler& c) { c.addServlet("/*", servlet); });
        RawClient client(server.port());
        client.sendRaw("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
                       "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n");
        auto r = client.readResponse();
        CHECK(r.status == 200);
        CHECK(r.body == "got 8");
        // RFC 9110 8.6: a list of one repeated value may be taken as that value.
        client.sendRaw("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello");
        r = client.readResponse();
        CHECK(r.status == 200);
        CHECK(r.body == "got 5");
        r = client.get("/after");  // same connection
        CHECK(r.status == 200);
        CHECK(r.body == "got 0");
    }
}
