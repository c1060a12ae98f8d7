// The HTTP endpoint beyond PgBouncer: /health, /ready and Prometheus /metrics, checked with
// real HTTP requests against a real Sluice in front of the fixture's PostgreSQL.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "pg_server.h"
#include "http_util.h"
#include "pq_util.h"
#include "sluice_process.h"

namespace sluice::itest {
namespace {

// A check of the Prometheus text format (0.0.4): every sample line is `name{labels} value`, and
// its family was announced with # HELP and # TYPE before. Returns the samples by full name.
::testing::AssertionResult parsePrometheus(const std::string& text, std::map<std::string, double>& samples) {
    static const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.eE+]+|NaN|[+-]Inf)$)");
    static const std::regex help(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$)");
    static const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
    std::set<std::string> helped, typed;
    std::istringstream lines(text);
    std::string line;
    int number = 0;
    while (std::getline(lines, line)) {
        ++number;
        std::smatch m;
        if (std::regex_match(line, m, help)) {
            helped.insert(m[1]);
        } else if (std::regex_match(line, m, type)) {
            if (!helped.count(m[1])) return ::testing::AssertionFailure() << "TYPE before HELP: " << line;
            typed.insert(m[1]);
        } else if (std::regex_match(line, m, sample)) {
            if (!typed.count(m[1])) return ::testing::AssertionFailure() << "sample of an undeclared family: " << line;
            const size_t space = line.rfind(' ');
            samples[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
        } else {
            return ::testing::AssertionFailure() << "line " << number << " is not Prometheus text: '" << line << "'";
        }
    }
    return ::testing::AssertionSuccess();
}

class HttpEndpoint : public ::testing::Test {
protected:
    void startSluice(const std::string& extra = "", const std::string& databases = "") {
        httpPort_ = freePort();
        ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), freePort(),
                                           "http_listen_addr = 127.0.0.1\nhttp_listen_port = " +
                                               std::to_string(httpPort_) + "\n" + extra,
                                           databases)));
    }

    SluiceProcess sluice_;
    int httpPort_ = 0;
};

TEST_F(HttpEndpoint, HealthAndProperHttpErrors) {
    startSluice();
    HttpReply health = httpGet(httpPort_, "/health");
    EXPECT_EQ(health.status, 200) << health.head;
    EXPECT_EQ(health.body, "ok\n");
    EXPECT_EQ(httpGet(httpPort_, "/health", "HEAD").body, "") << "HEAD has no body";
    EXPECT_EQ(httpGet(httpPort_, "/nothing-here").status, 404);
    HttpReply post = httpGet(httpPort_, "/metrics", "POST");
    EXPECT_EQ(post.status, 405);
    EXPECT_NE(post.head.find("Allow: GET, HEAD"), std::string::npos) << post.head;
    EXPECT_EQ(httpRaw(httpPort_, "this is not http\r\n\r\n").status, 400);
    EXPECT_EQ(httpRaw(httpPort_, "GET /health HTTP/1.1\r\nX-Filler: " + std::string(20000, 'a') + "\r\n\r\n").status,
              431);
    // A client that sends half a request and stalls is answered 408 and dropped after the endpoint's
    // 5 s request timeout, not kept forever. The test waits longer than that, so a slow (sanitizer)
    // run still sees the answer rather than racing the timer.
    const auto start = std::chrono::steady_clock::now();
    HttpReply stalled = httpRaw(httpPort_, "GET /health HTTP/1.1\r\n", 15s);
    EXPECT_EQ(stalled.status, 408);
    EXPECT_GE(elapsedMs(start), 4900) << "answered before the request timeout";
    // And the endpoint still serves.
    EXPECT_EQ(httpGet(httpPort_, "/health").status, 200);
}

TEST_F(HttpEndpoint, MetricsAreValidPrometheusAndMoveWithPgbench) {
    startSluice("pool_mode = transaction\nstats_period = 1\n");
    std::map<std::string, double> before;
    ASSERT_TRUE(parsePrometheus(httpGet(httpPort_, "/metrics").body, before));
    EXPECT_EQ(before["sluice_up"], 1);

    const std::string script = sluice_.writeFile("select1.sql", "SELECT 1;\n");
    const std::string command = "env PGPASSWORD=apppass " + sharedPg().bindir() + "/pgbench -n -h 127.0.0.1 -p " +
                                std::to_string(sluice_.port()) + " -U app -c 4 -j 2 -t 50 -f " + script + " app" +
                                " > " + sluice_.dir() + "/pgbench.out 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << readTextFile(sluice_.dir() + "/pgbench.out");
    std::this_thread::sleep_for(2200ms);  // two stats_period ticks, so the averages cover the run

    std::map<std::string, double> after;
    HttpReply metrics = httpGet(httpPort_, "/metrics");
    EXPECT_NE(metrics.head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << metrics.head;
    ASSERT_TRUE(parsePrometheus(metrics.body, after));
    EXPECT_GE(after["sluice_stats_total_xact_count{database=\"app\"}"], 200) << metrics.body;
    EXPECT_GE(after["sluice_stats_total_query_count{database=\"app\"}"], 200);
    EXPECT_GT(after["sluice_stats_total_received{database=\"app\"}"], 0);
    EXPECT_GE(after["sluice_stats_total_client_connect_count{database=\"app\"}"], 4);
    EXPECT_EQ(after["sluice_pools_cl_waiting{database=\"app\",user=\"app\"}"], 0);
    EXPECT_GE(after["sluice_pools_sv_idle{database=\"app\",user=\"app\"}"], 1);
    EXPECT_EQ(after.count("sluice_databases_pool_size{database=\"app\"}"), 1u);
    EXPECT_GT(after["sluice_resident_memory_bytes"], 0);
    EXPECT_GT(after["sluice_open_fds"], 0);
    EXPECT_NE(metrics.body.find("# TYPE sluice_stats_total_xact_count counter"), std::string::npos);
}

TEST_F(HttpEndpoint, ReadyFollowsMinPoolSizePauseAndShutdown) {
    const PgServer& pg = sharedPg();
    startSluice("", "app = host=127.0.0.1 port=" + std::to_string(pg.port()) +
                        " dbname=app user=app min_pool_size=1\n");
    // A forced user's pool keeps min_pool_size servers from the start: ready once one is up.
    HttpReply ready;
    for (int i = 0; i < 50; ++i) {
        ready = httpGet(httpPort_, "/ready");
        if (ready.status == 200) break;
        std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(ready.status, 200) << ready.body << "\n" << sluice_.log();

    ASSERT_TRUE(sluice_.signal(SIGUSR1));  // PAUSE
    std::this_thread::sleep_for(300ms);
    HttpReply paused = httpGet(httpPort_, "/ready");
    EXPECT_EQ(paused.status, 503);
    EXPECT_NE(paused.body.find("paused"), std::string::npos) << paused.body;
    ASSERT_TRUE(sluice_.signal(SIGUSR2));  // RESUME

    // SHUTDOWN WAIT_FOR_CLIENTS (SIGTERM) with a client still connected: alive, not ready.
    PqConn client(sluice_.conninfo("app", "apppass", "app"));
    ASSERT_TRUE(client.isOk()) << client.error();
    ASSERT_TRUE(sluice_.signal(SIGTERM));
    std::this_thread::sleep_for(300ms);
    HttpReply shutting = httpGet(httpPort_, "/ready");
    EXPECT_EQ(shutting.status, 503);
    EXPECT_NE(shutting.body.find("shutting down"), std::string::npos) << shutting.body;
    EXPECT_EQ(httpGet(httpPort_, "/health").status, 200);
    client = PqConn();
    EXPECT_TRUE(sluice_.waitExit(5s).has_value()) << "exits once the last client has left";
}

}  // namespace
}  // namespace sluice::itest
