// Static files through a real Server on loopback, where the file system changes under
// the request: a symlink swapped in while the file is looked up, a file replaced or
// grown between the servlet's answer and the write. What is sent must be the file
// that was checked, at the length that was announced.

#include "support/RawClient.hpp"

#include <doctest/doctest.h>

#include <wharf/wharf.hpp>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>

#include <fcntl.h>

using namespace wharf;
using namespace wharf::test;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view secretText = "TOP SECRET: outside the root";
constexpr std::string_view insideText = "inside";

/// <base>/secret.txt outside, <base>/root/ served with index.html and x (a file).
struct SwapTree {
    fs::path base, root;
    SwapTree()
    {
        std::random_device rd;
        base = fs::temp_directory_path() / ("wharf-static-swap-" + std::to_string(rd()) + "-" + std::to_string(rd()));
        root = base / "root";
        fs::create_directories(root);
        write(base / "secret.txt", secretText);
        write(root / "index.html", "<h1>home</h1>");
        write(root / "x", insideText);
        fs::create_symlink(base / "secret.txt", root / ".out");  // swapped with x
    }
    ~SwapTree()
    {
        std::error_code ec;
        fs::remove_all(base, ec);
    }
    static void write(const fs::path& file, std::string_view text) { std::ofstream(file, std::ios::binary) << text; }
    /// Atomically exchanges the names x and .out: x is the file or the symlink pointing out.
    bool swap() const
    {
        return ::renameat2(AT_FDCWD, (root / "x").c_str(), AT_FDCWD, (root / ".out").c_str(), RENAME_EXCHANGE) == 0;
    }
};

/// Runs the static servlet, then `after`: the moment between the servlet's answer and the
/// server's write of the response, where the file system may change.
class ThenHandler : public Handler {
public:
    ThenHandler(const fs::path& root, std::function<void()> after)
        : context_(std::make_shared<ServletContextHandler>("/")), after_(std::move(after))
    {
        context_->addStaticFiles("/", root);
    }
    bool handle(Request& request, Response& response) override
    {
        const bool handled = context_->handle(request, response);
        if (request.path() != "/index.html") after_();
        return handled;
    }

private:
    std::shared_ptr<ServletContextHandler> context_;
    std::function<void()> after_;
};

struct ServerFor {
    Server server;
    explicit ServerFor(std::shared_ptr<Handler> handler)
    {
        server.addConnector({"127.0.0.1", 0, std::nullopt});
        server.setThreads(1);
        server.setHandler(std::move(handler));
        server.start();
    }
    ~ServerFor() { server.stop(); }
};

}  // namespace

TEST_SUITE("static files")
{
    TEST_CASE("a symlink swapped in and out while requests run never serves the file outside the root")
    {
        SwapTree tree;
        ServerFor s(std::make_shared<ThenHandler>(tree.root, [] {}));
        std::atomic<bool> stop{false}, swapFailed{false};
        std::thread swapper([&] {
            while (!stop.load())
                if (!tree.swap()) swapFailed = true;
        });
        // Two keep-alive clients, at most 2,000 requests or 3 s between them. A 200 that is
        // not the inside file is (part of) the secret; a response that does not parse means
        // the body did not match its Content-Length.
        std::atomic<int> requests{0}, served{0}, refused{0}, leaked{0}, broken{0};
        const auto deadline = std::chrono::steady_clock::now() + 3s;
        auto client = [&] {
            RawClient c(s.server.port());
            while (requests.fetch_add(1) < 2000 && std::chrono::steady_clock::now() < deadline) {
                try {
                    c.sendRaw("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
                    const auto r = c.readResponse(1s);
                    if (r.status == 200 && r.body == insideText) ++served;
                    else if (r.status == 404 && r.body.find("TOP") == std::string::npos) ++refused;
                    else ++leaked;
                } catch (const std::exception&) {
                    ++broken;
                    c = RawClient(s.server.port());
                }
            }
        };
        std::thread second(client);
        client();
        second.join();
        stop = true;
        swapper.join();
        MESSAGE("served ", served.load(), ", refused ", refused.load(), ", leaked ", leaked.load(), ", broken ",
                broken.load());
        CHECK_FALSE(swapFailed);
        CHECK(leaked == 0);
        CHECK(broken == 0);
        CHECK(served > 0);  // the swap really alternated between the two
        CHECK(refused > 0);
    }

    TEST_CASE("the file checked is the file sent, even when the name is swapped for a symlink before the write")
    {
        SwapTree tree;
        ServerFor s(std::make_shared<ThenHandler>(tree.root, [&] { tree.swap(); }));
        RawClient client(s.server.port());
        auto r = client.get("/x");  // x is the file when looked up, the symlink out when written
        CHECK(r.status == 200);
        CHECK(r.body == insideText);
        CHECK(r.header("Content-Length") == std::to_string(insideText.size()));
        r = client.get("/index.html");  // the connection is still in step
        CHECK(r.status == 200);
        CHECK(r.body == "<h1>home</h1>");
    }

    TEST_CASE("a file that grows after the answer is sent at the announced length; the connection stays in step")
    {
        SwapTree tree;
        bool grown = false;
        ServerFor s(std::make_shared<ThenHandler>(tree.root, [&] {
            if (std::exchange(grown, true)) return;
            // Bytes that would read as a second response if they followed the body.
            std::ofstream(tree.root / "x", std::ios::binary | std::ios::app) << "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL";
        }));
        RawClient client(s.server.port());
        auto r = client.get("/x");
        CHECK(r.status == 200);
        CHECK(r.body == insideText);
        r = client.get("/index.html");
        CHECK(r.status == 200);
        CHECK(r.body == "<h1>home</h1>");
    }

    TEST_CASE("a file that shrinks after the answer ends the connection instead of leaving it out of step")
    {
        SwapTree tree;
        ServerFor s(std::make_shared<ThenHandler>(tree.root, [&] { fs::resize_file(tree.root / "x", 2); }));
        RawClient client(s.server.port());
        client.sendRaw("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        CHECK_THROWS(client.readResponse(2s));  // 2 of the 6 announced bytes, then the end
        CHECK(client.waitForEof(2s));
    }

    TEST_CASE("a directory named like a host redirects to a path on this server, not to that host")
    {
        SwapTree tree;
        fs::create_directories(tree.root / "evil.example");
        ServerFor s(std::make_shared<ThenHandler>(tree.root, [] {}));
        RawClient client(s.server.port());
        for (const char* target : {"//evil.example", "///evil.example", "http://127.0.0.1//evil.example"}) {
            CAPTURE(target);
            client.sendRaw(std::string("GET ") + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            const auto r = client.readResponse();
            CHECK(r.status == 302);
            CHECK(r.header("Location") == "/evil.example/");
        }
    }
}
