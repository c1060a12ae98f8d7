// Replication connections through Sluice, as PgBouncer 1.23+ passes them: a client whose startup
// packet says replication=true (physical) or replication=database (logical) gets a server
// connection of its own, opened with its startup parameters, linked until it leaves and never
// pooled. pg_basebackup (two walsenders: the base backup and the WAL stream) and a logical
// walsender's IDENTIFY_SYSTEM run through it.
#include <gtest/gtest.h>

#include <filesystem>

#include "pg_server.h"
#include "pgbench_util.h"
#include "pq_util.h"
#include "sluice_process.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

// The value of `column` in the first SHOW SERVERS row whose replication column says `kind`;
// "" when there is none.
std::string serverOf(PqConn& console, const std::string& kind, const std::string& column) {
    QueryResult servers = console.exec("SHOW SERVERS");
    size_t replication = servers.columns.size(), wanted = servers.columns.size();
    for (size_t c = 0; c < servers.columns.size(); ++c) {
        if (servers.columns[c] == "replication") replication = c;
        if (servers.columns[c] == column) wanted = c;
    }
    if (replication == servers.columns.size() || wanted == servers.columns.size()) return "";
    for (const auto& row : servers.rows)
        if (row[replication] == kind) return row[wanted];
    return "";
}

TEST(Replication, PhysicalAndLogicalWalsendersGetServersOfTheirOwn) {
    PgServerOptions options;
    options.extraHba = {"host replication all 127.0.0.1/32 scram-sha-256"};
    options.extraConf = {"wal_level = logical", "max_wal_senders = 10"};
    PgServer pg;
    pg.start(options);
    SluiceProcess sluice;
    // Transaction pooling with one server: replication clients must not take (or wait for) it.
    // Physical walsenders ask for the database "replication" (libpq's name for them): as with
    // PgBouncer, an entry (or "*") routes them.
    const std::string server = "host=127.0.0.1 port=" + std::to_string(pg.port());
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(), "pool_mode = transaction\ndefault_pool_size = 1\n",
                                      "app = " + server + " dbname=app\nreplication = " + server + "\n")));
    auto replicationConninfo = [&](const std::string& replication) {
        return conninfo({{"host", "127.0.0.1"},
                         {"port", std::to_string(sluice.port())},
                         {"user", PgServer::kSuperuser},
                         {"password", PgServer::kSuperPassword},
                         {"dbname", "app"},
                         {"sslmode", "disable"},
                         {"application_name", "walreceiver_test"},
                         {"replication", replication}});
    };

    // Logical: a walsender connected to database app.
    PqConn logical(replicationConninfo("database"));
    ASSERT_TRUE(logical.isOk()) << logical.error() << "\n" << lastLines(sluice.log(), 15);
    QueryResult identify = logical.exec("IDENTIFY_SYSTEM");
    ASSERT_TRUE(identify.ok) << identify.describe();
    ASSERT_EQ(identify.columns.size(), 4u);
    EXPECT_EQ(identify.value(0, 3), "app");
    PqConn console(sluice.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    EXPECT_EQ(serverOf(console, "logical", "database"), "app");
    PqConn direct(pg.socketConninfo("postgres"));
    EXPECT_EQ(direct.exec("SELECT count(*) FROM pg_stat_replication WHERE application_name = 'walreceiver_test'")
                  .value(),
              "1")
        << "the client's application_name reached the walsender";
    // Meanwhile the pool's one server still serves ordinary clients.
    PqConn app(sluice.conninfo("app", "apppass", "app"));
    EXPECT_EQ(app.exec("SELECT 1").value(), "1");
    logical.close();
    EXPECT_TRUE(waitUntil([&] { return serverOf(console, "logical", "database").empty(); }, 5s))
        << "a replication server ends with its client, never pooled";

    // Physical: pg_basebackup with its WAL streamed on a second replication connection.
    const std::string target = sluice.dir() + "/basebackup";
    const std::string command = "env PGPASSWORD=" + std::string(PgServer::kSuperPassword) + " " + pg.bindir() +
                                "/pg_basebackup -h 127.0.0.1 -p " + std::to_string(sluice.port()) + " -U " +
                                PgServer::kSuperuser + " -D '" + target + "' -X stream -c fast -w";
    RunResult backup = run(command, 120);
    EXPECT_EQ(backup.status, 0) << "$ " << command << "\n" << backup.output << lastLines(sluice.log(), 15);
    EXPECT_TRUE(std::filesystem::exists(target + "/PG_VERSION"));
    EXPECT_TRUE(std::filesystem::exists(target + "/backup_manifest"));
    EXPECT_NE(sluice.log().find("replication=yes"), std::string::npos);

    // A value PostgreSQL would refuse is refused with its words.
    PqConn bad(replicationConninfo("maybe"));
    EXPECT_FALSE(bad.isOk());
    EXPECT_EQ(bad.sqlstate(), "22023") << bad.error();
    EXPECT_NE(bad.error().find("invalid value for parameter \"replication\": \"maybe\""), std::string::npos)
        << bad.error();
}

}  // namespace
}  // namespace sluice::itest
