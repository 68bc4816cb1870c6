// ServletContextHandler::addGet / addHandler: HTTP endpoints from a function.
#include "support/RawClient.hpp"
#include "support/TestServer.hpp"

#include <doctest/doctest.h>

using namespace wharf;
using namespace wharf::test;

TEST_SUITE("http") {

TEST_CASE("addGet answers GET and HEAD from a lambda, 405 otherwise, and addHandler takes every method")
{
    TestServer server([](ServletContextHandler& context) {
        context.addGet("/hello/{name}", [](const Request& request, Response& response) {
            response.setContentType("text/plain");
            response.setBody("hello " + request.pathParameter("name").value_or("?"));
        });
        context.addHandler("/any", [](const Request& request, Response& response) { response.setBody(request.method()); });
    });
    RawClient client(server.port());
    const auto get = client.get("/hello/ann");
    CHECK(get.status == 200);
    CHECK(get.body == "hello ann");
    client.sendRaw("HEAD /hello/ann HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    const auto head = client.readResponse(std::chrono::seconds(5), true);
    CHECK(head.status == 200);
    CHECK(head.header("Content-Length") == "9");
    client.sendRaw("POST /hello/ann HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
    const auto post = client.readResponse();
    CHECK(post.status == 405);
    CHECK(post.header("Allow") == "GET, HEAD, OPTIONS");
    client.sendRaw("DELETE /any HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK(client.readResponse().body == "DELETE");
    CHECK_THROWS_AS(ServletContextHandler().addGet("/x", {}), std::invalid_argument);
}

}  // TEST_SUITE
