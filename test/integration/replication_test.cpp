// Replication connections through Sluice, as PgBouncer 1.23+ passes them: a client whose startup
// packet says replication=true (physical) or replication=database (logical) gets a server
// connection of its own, opened with its startup parameters, linked until it leaves and never
// pooled. pg_basebackup (two walsenders: the base backup and the WAL stream) and a logical
// walsender's IDENTIFY_SYSTEM run through it; over TLS, pg_receivewal streams WAL and
// pg_recvlogical decodes a committed row.
#include <gtest/gtest.h>

#include <filesystem>

#include "pg_server.h"
#include "pgbench_util.h"
#include "pq_util.h"
#include "sluice_process.h"
#include "tls_certs.h"
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
    auto replicationConninfo = [&](const std::string& replication, const std::string& user = PgServer::kSuperuser,
                                   const std::string& password = PgServer::kSuperPassword) {
        return conninfo({{"host", "127.0.0.1"},
                         {"port", std::to_string(sluice.port())},
                         {"user", user},
                         {"password", password},
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
    EXPECT_NE(sluice.log().find("closing because: replication client was closed"), std::string::npos)
        << lastLines(sluice.log(), 10);

    // A role without REPLICATION: PgBouncer's "login failed" (the server's reason in the DETAIL),
    // and the pool's ordinary logins go on as before.
    PqConn refused(replicationConninfo("database", "app", "apppass"));
    EXPECT_FALSE(refused.isOk());
    EXPECT_EQ(refused.sqlstate(), "08P01") << refused.error();
    EXPECT_NE(refused.error().find("login failed"), std::string::npos) << refused.error();
    EXPECT_NE(refused.error().find("replication role"), std::string::npos) << "the DETAIL: " << refused.error();
    EXPECT_NE(sluice.log().find("ERROR S: login failed: FATAL: "), std::string::npos) << lastLines(sluice.log(), 10);
    EXPECT_EQ(PqConn(sluice.conninfo("app", "apppass", "app")).exec("SELECT 2").value(), "2");

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

TEST(Replication, WalAndLogicalDecodingStreamThroughTlsClientConnections) {
    PgServerOptions options;
    options.extraHba = {"host replication all 127.0.0.1/32 scram-sha-256"};
    options.extraConf = {"wal_level = logical", "max_wal_senders = 10", "max_replication_slots = 4"};
    PgServer pg;
    pg.start(options);
    SluiceProcess sluice;
    const TestCertificates certs = makeCertificates(sluice.dir(), "app");
    const std::string server = "host=127.0.0.1 port=" + std::to_string(pg.port());
    ASSERT_TRUE(sluice.start(basicIni(pg, freePort(),
                                      "pool_mode = transaction\ndefault_pool_size = 1\nclient_tls_sslmode = require\n"
                                      "client_tls_key_file = " + certs.serverKey + "\nclient_tls_cert_file = " +
                                          certs.serverCert + "\n",
                                      "app = " + server + " dbname=app\nreplication = " + server + "\n")));
    // PostgreSQL's own programs, through Sluice, refusing anything but TLS.
    auto through = [&](const std::string& program, const std::string& arguments) {
        const std::string command = "env PGPASSWORD=" + std::string(PgServer::kSuperPassword) +
                                    " PGSSLMODE=require " + pg.bindir() + "/" + program + " -h 127.0.0.1 -p " +
                                    std::to_string(sluice.port()) + " -U " + PgServer::kSuperuser + " " + arguments;
        RunResult result = run(command, 60);
        EXPECT_EQ(result.status, 0) << "$ " << command << "\n" << result.output << lastLines(sluice.log(), 15);
        return result.status == 0;
    };
    ASSERT_TRUE(through("pg_recvlogical", "-d app --slot through_sluice --create-slot -P test_decoding"));
    pg.exec("CREATE TABLE decoded (note text)", "app");
    pg.exec("INSERT INTO decoded VALUES ('committed before the stream ended')", "app");
    const std::string end = pg.query1("SELECT pg_current_wal_insert_lsn()");
    // WAL beyond the end, so the streams reach past it at once instead of waiting for a
    // keepalive (pg_receivewal, direct, took 15 s otherwise).
    pg.exec("INSERT INTO decoded VALUES ('after the end')", "app");

    const std::string changes = sluice.dir() + "/changes.txt";
    ASSERT_TRUE(through("pg_recvlogical", "-d app --slot through_sluice --start --no-loop -E " + end + " -f '" +
                                              changes + "'"));
    RunResult decoded = run("cat '" + changes + "'", 10);
    EXPECT_NE(decoded.output.find("committed before the stream ended"), std::string::npos) << decoded.output;
    EXPECT_EQ(decoded.output.find("after the end"), std::string::npos) << decoded.output;

    const std::string walDir = sluice.dir() + "/wal";
    std::filesystem::create_directories(walDir);
    ASSERT_TRUE(through("pg_receivewal", "-D '" + walDir + "' --no-loop -E " + end));
    EXPECT_FALSE(std::filesystem::is_empty(walDir)) << "no WAL segment was received";

    // Each of those ran on a TLS client connection and a replication server of its own.
    EXPECT_EQ(countOf(sluice.log(), "replication=database"), 2u) << lastLines(sluice.log(), 20);
    EXPECT_EQ(countOf(sluice.log(), "replication=yes"), 1u) << lastLines(sluice.log(), 20);
    EXPECT_EQ(countOf(sluice.log(), "login attempt"), countOf(sluice.log(), " tls=TLS")) << lastLines(sluice.log(), 20);
    pg.exec("SELECT pg_drop_replication_slot('through_sluice')");
}

}  // namespace
}  // namespace sluice::itest
