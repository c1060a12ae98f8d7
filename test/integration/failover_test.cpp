// Multi-host databases against a real replicated cluster (pg_cluster.h): Sluice follows the
// primary through a crash, a hung host, a switchover and a restart; a read-only entry keeps
// reading; a primary on an old timeline is fenced. Each test asserts what clients saw.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include "http_util.h"
#include "pg_cluster.h"
#include "sluice_process.h"

namespace sluice::itest {
namespace {

using Clock = std::chrono::steady_clock;

// "host=127.0.0.1,127.0.0.1 port=P0,P1" for the given nodes.
std::string hostList(PgCluster& cluster, std::initializer_list<int> nodes) {
    std::string hosts, ports;
    for (int node : nodes) {
        if (!hosts.empty()) {
            hosts += ',';
            ports += ',';
        }
        hosts += cluster.node(node).host();
        ports += std::to_string(cluster.node(node).port());
    }
    return "host=" + hosts + " port=" + ports;
}

template <class Condition>
bool waitFor(Condition condition, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return condition();
}

// Clients inserting one row per transaction, each on one connection that it never gives up
// unless the connection itself is lost (then it reconnects and counts it).
class Writers {
public:
    Writers(std::string conninfo, int count) : conninfo_(std::move(conninfo)) {
        for (int client = 0; client < count; ++client) threads_.emplace_back([this, client] { run(client); });
    }
    ~Writers() { stop(); }

    void stop() {
        stop_ = true;
        for (auto& thread : threads_)
            if (thread.joinable()) thread.join();
    }
    size_t acknowledged() {
        std::lock_guard lock(mutex_);
        return acks_.size();
    }
    size_t acknowledgedSince(Clock::time_point since) {
        std::lock_guard lock(mutex_);
        size_t n = 0;
        for (const auto& ack : acks_) n += ack.at >= since;
        return n;
    }
    std::optional<Clock::time_point> firstAckSince(Clock::time_point since) {
        std::lock_guard lock(mutex_);
        std::optional<Clock::time_point> first;
        for (const auto& ack : acks_)
            if (ack.at >= since && (!first || ack.at < *first)) first = ack.at;
        return first;
    }
    std::set<std::string> acknowledgedKeys() {
        std::lock_guard lock(mutex_);
        std::set<std::string> keys;
        for (const auto& ack : acks_) keys.insert(std::to_string(ack.client) + ":" + std::to_string(ack.seq));
        return keys;
    }
    std::vector<std::string> errors() {
        std::lock_guard lock(mutex_);
        return errors_;
    }
    int connectionsLost() const { return lost_; }

private:
    struct Ack {
        int client;
        int seq;
        Clock::time_point at;
    };

    void run(int client) {
        PqConn conn(conninfo_);
        for (int seq = 1; !stop_; ++seq) {
            if (!conn.isOk()) {
                ++lost_;
                conn.connect(conninfo_);
                std::this_thread::sleep_for(20ms);
                continue;
            }
            auto result = conn.exec("INSERT INTO drill(client, seq) VALUES (" + std::to_string(client) + ", " +
                                        std::to_string(seq) + ")",
                                    30s);
            std::lock_guard lock(mutex_);
            if (result.ok) acks_.push_back({client, seq, Clock::now()});
            else errors_.push_back(result.describe());
        }
    }

    std::string conninfo_;
    std::atomic<bool> stop_{false};
    std::atomic<int> lost_{0};
    std::mutex mutex_;
    std::vector<Ack> acks_;
    std::vector<std::string> errors_;
    std::vector<std::thread> threads_;
};

class Failover : public ::testing::Test {
protected:
    void startCluster(int standbys, bool synchronous) {
        PgClusterOptions options;
        options.synchronous = synchronous;
        cluster_.start(standbys, options);
        cluster_.node(0).exec("CREATE TABLE drill(client int, seq int, PRIMARY KEY (client, seq)); "
                              "GRANT ALL ON drill TO app",
                              "app");
    }

    // Transaction pooling; `databases` lines name the entries.
    void startSluice(const std::string& databases, const std::string& extra = "") {
        ASSERT_TRUE(sluice_.start(basicIni(cluster_.node(0), freePort(),
                                           // Two workers: host changes must reach every one of them.
                                           "workers = 2\npool_mode = transaction\nhost_probe_interval = 0.5\n"
                                           "host_probe_timeout = 1\nserver_login_retry = 1\n"
                                           "query_wait_timeout = 30\n" + extra,
                                           databases)));
    }

    std::string appConninfo(const std::string& database = "app") {
        return sluice_.conninfo("app", "apppass", database);
    }

    // SHOW HOSTS as "port:role:state" for each host of `database`.
    std::vector<std::string> hosts(const std::string& database) {
        PqConn admin(sluice_.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
        auto result = admin.exec("SHOW HOSTS");
        std::vector<std::string> rows;
        if (!result.ok) return {"SHOW HOSTS failed: " + result.describe()};
        for (size_t r = 0; r < result.rows.size(); ++r)
            if (result.value(r, 0) == database)
                rows.push_back(result.value(r, 2) + ":" + result.value(r, 3) + ":" + result.value(r, 4));
        return rows;
    }
    std::string hostState(const std::string& database, int node) {
        const std::string prefix = std::to_string(cluster_.node(node).port()) + ":";
        for (const auto& row : hosts(database))
            if (row.rfind(prefix, 0) == 0) return row.substr(prefix.size());
        return "(not listed)";
    }

    // Every row of drill on `node`, as "client:seq".
    std::set<std::string> rowsOn(int node) {
        PqConn conn(cluster_.node(node).socketConninfo("app"));
        auto result = conn.exec("SELECT client || ':' || seq FROM drill");
        std::set<std::string> rows;
        for (const auto& row : result.rows) rows.insert(row[0]);
        return rows;
    }

    std::string context() { return "\n--- sluice log:\n" + lastLines(sluice_.log(), 25); }

    PgCluster cluster_;
    SluiceProcess sluice_;
};

TEST_F(Failover, CrashOfThePrimaryLosesNoAcknowledgedWriteAndNoIdleClient) {
    startCluster(1, true);
    const int httpPort = freePort();
    startSluice("app = " + hostList(cluster_, {0, 1}) + " dbname=app target_session_attrs=read-write min_pool_size=1\n",
                "http_listen_port = " + std::to_string(httpPort) + "\n");
    PqConn idle(appConninfo());
    ASSERT_TRUE(idle.exec("SELECT 1").ok) << idle.error() << context();

    Writers writers(appConninfo(), 4);
    ASSERT_TRUE(waitFor([&] { return writers.acknowledged() >= 50; }, 15s)) << context();
    // The pooler has seen the old primary as such (a failover is a change of primary).
    ASSERT_TRUE(waitFor([&] { return hostState("app", 0) == "primary:up"; }, 10s)) << context();
    cluster_.crash(0);
    // Between hosts the pooler stays ready: its clients wait for the new primary, none fails.
    ASSERT_TRUE(waitFor([&] { return hostState("app", 0) == "unknown:down"; }, 10s)) << context();
    const HttpReply duringFailover = httpGet(httpPort, "/ready");
    EXPECT_EQ(duringFailover.status, 200) << duringFailover.body;
    std::this_thread::sleep_for(1s);  // the drill: the standby is promoted a second after the crash
    cluster_.promote(1);
    const auto writable = Clock::now();
    ASSERT_TRUE(waitFor([&] { return writers.acknowledgedSince(writable) >= 40; }, 20s))
        << "writes did not resume on the promoted standby" << context();
    const std::string metrics = httpGet(httpPort, "/metrics").body;
    const std::string newPrimary =
        "{database=\"app\",host=\"127.0.0.1\",port=\"" + std::to_string(cluster_.node(1).port()) + "\"}";
    EXPECT_NE(metrics.find("sluice_hosts_is_primary" + newPrimary + " 1"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("sluice_failovers_total 1"), std::string::npos);
    writers.stop();

    if (auto first = writers.firstAckSince(writable))
        std::printf("[ failover ] standby writable -> first commit through Sluice: %lld ms\n",
                    static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(*first - writable).count()));
    const auto onNewPrimary = rowsOn(1);
    size_t missing = 0;
    for (const auto& key : writers.acknowledgedKeys()) missing += !onNewPrimary.count(key);
    EXPECT_EQ(missing, 0u) << "acknowledged inserts missing on the new primary";
    EXPECT_EQ(writers.connectionsLost(), 0) << "no writer should have lost its connection" << context();
    // Only what was in flight at the crash fails, with a connection error the client survives.
    const auto errors = writers.errors();
    EXPECT_LE(errors.size(), 8u);
    for (const auto& error : errors) EXPECT_EQ(error.substr(0, 5), "08006") << error;
    // The client that was idle at the crash sees nothing of it.
    auto after = idle.exec("SELECT pg_is_in_recovery()");
    EXPECT_TRUE(after.ok) << after.describe() << context();
    EXPECT_EQ(after.value(), "f");
    EXPECT_EQ(hostState("app", 1), "primary:up");
    EXPECT_EQ(hostState("app", 0), "unknown:down");
    EXPECT_NE(sluice_.log().find("failover: primary moved from"), std::string::npos) << context();
}

TEST_F(Failover, AHungPrimaryIsDetectedAndItsServersAreNotWaitedOnForever) {
    startCluster(1, true);
    startSluice("app = " + hostList(cluster_, {0, 1}) + " dbname=app target_session_attrs=read-write\n");
    Writers writers(appConninfo(), 3);
    ASSERT_TRUE(waitFor([&] { return writers.acknowledged() >= 30; }, 15s)) << context();
    cluster_.freeze(0);  // stopped, not crashed: sockets stay open, nothing answers
    const auto frozen = Clock::now();
    ASSERT_TRUE(waitFor([&] { return hostState("app", 0) == "unknown:down"; }, 10s))
        << "the hung host was not detected: " << hostState("app", 0) << context();
    std::printf("[ failover ] hung primary seen down after %lld ms (host_probe_timeout = 1 s)\n",
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - frozen).count()));
    cluster_.promote(1);
    const auto writable = Clock::now();
    ASSERT_TRUE(waitFor([&] { return writers.acknowledgedSince(writable) >= 30; }, 20s))
        << "writes did not resume: writers stuck on the frozen host?" << context();
    writers.stop();
    EXPECT_EQ(writers.connectionsLost(), 0) << context();
    for (const auto& error : writers.errors()) EXPECT_EQ(error.substr(0, 5), "08006") << error;
    cluster_.thaw(0);
}

TEST_F(Failover, SwitchoverAndPrimaryRestartCostIdleClientsNothing) {
    startCluster(1, false);
    startSluice("app = " + hostList(cluster_, {0, 1}) + " dbname=app target_session_attrs=read-write\n");
    std::vector<PqConn> idle;
    for (int i = 0; i < 3; ++i) {
        idle.emplace_back(appConninfo());
        ASSERT_TRUE(idle.back().exec("INSERT INTO drill VALUES (" + std::to_string(i) + ", 1)").ok) << context();
    }
    // The primary restarts (a minor upgrade, a config change): same host, back after a while.
    cluster_.stopClean(0);
    cluster_.restart(0);
    for (size_t i = 0; i < idle.size(); ++i) {
        auto result = idle[i].exec("INSERT INTO drill VALUES (" + std::to_string(i) + ", 2)");
        EXPECT_TRUE(result.ok) << "after a restart: " << result.describe() << context();
    }
    // A switchover: the primary shuts down cleanly, the standby is promoted.
    cluster_.stopClean(0);
    cluster_.promote(1);
    for (size_t i = 0; i < idle.size(); ++i) {
        auto result = idle[i].exec("INSERT INTO drill VALUES (" + std::to_string(i) + ", 3) RETURNING inet_server_port()");
        EXPECT_TRUE(result.ok) << "after a switchover: " << result.describe() << context();
        EXPECT_EQ(result.value(), std::to_string(cluster_.node(1).port()));
    }
}

TEST_F(Failover, AReadOnlyEntryKeepsAnsweringThroughAFailover) {
    startCluster(2, false);
    // A longer probe timeout: a standby slow to answer one probe while the cluster recovers on a
    // loaded machine (seen in CI: 1 s passed) would count as down and lose its reads; this test
    // is about reads going on through a failover, not about finding a hung host.
    startSluice("app = " + hostList(cluster_, {0, 1, 2}) + " dbname=app target_session_attrs=read-write\n" +
                    "app_ro = " + hostList(cluster_, {0, 1, 2}) + " dbname=app target_session_attrs=prefer-standby\n",
                "host_probe_timeout = 5\n");
    std::atomic<bool> stop{false};
    std::atomic<int> reads{0};
    std::mutex mutex;
    std::vector<std::string> errors;
    std::set<std::string> servedBy;
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; ++r) {
        readers.emplace_back([&] {
            PqConn conn(appConninfo("app_ro"));
            while (!stop) {
                auto result = conn.exec("SELECT inet_server_port()");
                std::lock_guard lock(mutex);
                if (result.ok) {
                    ++reads;
                    servedBy.insert(result.value());
                } else {
                    errors.push_back(result.describe());
                    if (!conn.isOk()) conn.connect(appConninfo("app_ro"));
                }
            }
        });
    }
    ASSERT_TRUE(waitFor([&] { return reads >= 50; }, 15s)) << context();
    cluster_.crash(0);
    cluster_.promote(1);
    const int before = reads;
    EXPECT_TRUE(waitFor([&] { return reads >= before + 200; }, 15s)) << context();
    stop = true;
    for (auto& thread : readers) thread.join();
    EXPECT_TRUE(errors.empty()) << errors.size() << " failed reads, first: " << errors.front() << context();
    EXPECT_FALSE(servedBy.count(std::to_string(cluster_.node(0).port())))
        << "prefer-standby read from the primary while standbys were up";
}

TEST_F(Failover, APrimaryOnAnOldTimelineIsFencedAndNeverWritten) {
    startCluster(1, true);
    startSluice("app = " + hostList(cluster_, {0, 1}) + " dbname=app target_session_attrs=read-write\n");
    PqConn client(appConninfo());
    ASSERT_TRUE(client.exec("INSERT INTO drill VALUES (0, 0)").ok) << context();
    cluster_.crash(0);
    cluster_.promote(1);
    ASSERT_TRUE(waitFor([&] { return hostState("app", 1) == "primary:up"; }, 10s)) << hostState("app", 1) << context();
    // The old primary comes back as a primary: two hosts claim read-write, on timelines 1 and 2.
    cluster_.restartAsPrimary(0);
    ASSERT_FALSE(cluster_.isInRecovery(0));
    ASSERT_LT(cluster_.timeline(0), cluster_.timeline(1));
    ASSERT_TRUE(waitFor([&] { return hostState("app", 0) == "primary:fenced"; }, 10s))
        << hostState("app", 0) << context();
    for (int seq = 1; seq <= 20; ++seq) {
        auto result = client.exec("INSERT INTO drill VALUES (1, " + std::to_string(seq) + ")");
        ASSERT_TRUE(result.ok) << result.describe() << context();
    }
    // Fresh connections too: none of them may land on the fenced host.
    for (int seq = 21; seq <= 30; ++seq) {
        PqConn fresh(appConninfo());
        ASSERT_TRUE(fresh.exec("INSERT INTO drill VALUES (1, " + std::to_string(seq) + ")").ok) << context();
    }
    const auto onOld = rowsOn(0);
    const auto onNew = rowsOn(1);
    for (int seq = 1; seq <= 30; ++seq) {
        const std::string key = "1:" + std::to_string(seq);
        EXPECT_TRUE(onNew.count(key)) << key << " missing on the new primary";
        EXPECT_FALSE(onOld.count(key)) << key << " written to the fenced old primary";
    }
    EXPECT_NE(sluice_.log().find("fenced"), std::string::npos) << context();
}

// A host list and a port list of different lengths, or an unknown target_session_attrs, are
// configuration errors with file:line, as libpq would refuse the connection string.
TEST(FailoverConfig, BadHostListsAreErrorsWithFileAndLine) {
    SluiceProcess sluice;
    const struct {
        const char* entry;
        const char* expected;
    } cases[] = {
        {"app = host=a,b,c port=1,2 dbname=app", "pooler.ini:2: database 'app': host lists 3 hosts but port lists 2 ports"},
        {"app = host=a,b target_session_attrs=writable", "pooler.ini:2: database 'app': invalid value 'writable' for "
                                                          "'target_session_attrs'"},
    };
    for (const auto& c : cases) {
        const std::string ini = sluice.writeFile("pooler.ini", std::string("[databases]\n") + c.entry +
                                                                   "\n[pooler]\nlisten_port = 6999\n");
        std::string command = SluiceProcess::defaultBinary() + " --check " + ini + " 2>&1";
        FILE* pipe = popen(command.c_str(), "r");
        ASSERT_NE(pipe, nullptr);
        std::string output;
        char buffer[512];
        while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
        const int status = pclose(pipe);
        EXPECT_NE(status, 0) << output;
        EXPECT_NE(output.find(c.expected), std::string::npos) << output;
    }
}

}  // namespace
}  // namespace sluice::itest
