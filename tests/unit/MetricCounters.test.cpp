#include "websocket/MetricCounters.hpp"

#include "handler/MetricsServlet.hpp"

#include <doctest/doctest.h>

#include <barrier>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace wharf;
using wharf::detail::MetricCounters;
using namespace std::chrono_literals;

TEST_SUITE("metrics")
{
    TEST_CASE("striped counters lose no count when many threads add at once")
    {
        MetricCounters counters;
        // More threads alive at once than slots: the last ones share a stripe.
        constexpr int threads = MetricCounters::stripes + 16;
        constexpr int rounds = 20000;
        std::barrier start(threads);
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                start.arrive_and_wait();
                for (int i = 0; i < rounds; ++i) {
                    counters.dataReceived(3, true);
                    counters.messageSent(static_cast<std::size_t>(t));
                    counters.sendRefused(i % 2 ? Errc::SendQueueFull : Errc::ProtocolError);
                    counters.sessionClosed(i % 2 ? CloseStatus::Normal : static_cast<CloseStatus>(4000));
                    counters.queueDropped(i % 2);  // an empty queue is not a drop
                    counters.subscribersChanged(i % 2 ? -1 : +1);
                }
            });
        for (auto& t : pool) t.join();
        const auto m = counters.snapshot();
        const std::uint64_t all = std::uint64_t{threads} * rounds;
        CHECK(m.messagesReceivedTotal == all);
        CHECK(m.bytesReceivedTotal == 3 * all);
        CHECK(m.messagesSentTotal == all);
        CHECK(m.bytesSentTotal == std::uint64_t{rounds} * (threads * (threads - 1) / 2));
        CHECK(m.sendsRefusedWith(Errc::SendQueueFull) == all / 2);
        CHECK(m.sendsRefusedTotal.back() == all / 2);  // ProtocolError is "other"
        CHECK(m.closesWith(CloseStatus::Normal) == all / 2);
        CHECK(m.closesTotal.back() == all / 2);
        CHECK(m.sendQueuesDroppedTotal == all / 2);
        CHECK(m.bytesDroppedTotal == all / 2);
        CHECK(m.subscribers == 0);  // a gauge: as many up as down
    }

    TEST_CASE("a duration lands in the first bucket whose bound it does not exceed")
    {
        MetricCounters counters;
        const auto now = std::chrono::steady_clock::now();
        counters.tlsHandshakeDone(now - 3ms, true);   // (0.0025, 0.005]: unless this thread stalls 2 ms
        counters.tlsHandshakeDone(now - 10s, true);   // over every bound: +Inf only
        counters.tlsHandshakeDone(now, false);        // a failure is no duration
        const auto h = counters.snapshot().tlsHandshakeSeconds;
        CHECK(h.count == 2);
        CHECK(h.cumulative[2] == 0);  // le 0.0025
        CHECK(h.cumulative.back() == 1);  // le 2.5
        CHECK(h.sumSeconds >= 10.003);
        CHECK(h.sumSeconds < 11);
        CHECK(counters.snapshot().tlsHandshakeFailuresTotal == 1);
        CHECK(counters.snapshot().handshakeSeconds.count == 0);
    }

    TEST_CASE("the exposition has HELP and TYPE for every family, and histograms end at +Inf")
    {
        MetricsSnapshot m;
        m.upgradesAcceptedTotal = 7;
        m.closesTotal[0] = 2;
        m.handshakeSeconds.cumulative.fill(1);
        m.handshakeSeconds.count = 2;
        m.handshakeSeconds.sumSeconds = 3.5;
        const std::string text = detail::formatPrometheus(m);
        CHECK(text.find("# TYPE wharf_websocket_upgrades_total counter\n") != std::string::npos);
        CHECK(text.find("wharf_websocket_upgrades_total{result=\"accepted\",status=\"101\"} 7\n") != std::string::npos);
        CHECK(text.find("wharf_websocket_closes_total{code=\"1000\"} 2\n") != std::string::npos);
        CHECK(text.find("wharf_websocket_handshake_duration_seconds_bucket{le=\"0.0005\"} 1\n") != std::string::npos);
        CHECK(text.find("wharf_websocket_handshake_duration_seconds_bucket{le=\"+Inf\"} 2\n") != std::string::npos);
        CHECK(text.find("wharf_websocket_handshake_duration_seconds_sum 3.5\n") != std::string::npos);
        CHECK(text.find("wharf_websocket_handshake_duration_seconds_count 2\n") != std::string::npos);
        CHECK(text.back() == '\n');
    }
}
