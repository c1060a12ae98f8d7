// Named prepared statements through Sluice in transaction pooling (max_prepared_statements):
// many clients with the same names and different texts on fewer servers, pipelines with an
// error in the middle, Describe, Close and re-Parse, the LRU, DEALLOCATE ALL, bad names.
#include <gtest/gtest.h>

#include <libpq-fe.h>

#include "sluice_process.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

class PreparedStatements : public ::testing::Test {
protected:
    // Two workers unless a test needs one server for all its clients (a server idle on one
    // worker does not serve a client of another yet).
    void startSluice(const std::string& extra = "", int workers = 2) {
        ASSERT_TRUE(clearAppBackends());
        ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), freePort(),
                                           "workers = " + std::to_string(workers) +
                                               "\npool_mode = transaction\ndefault_pool_size = 2\n" + extra)));
    }
    PqConn client() { return PqConn(sluice_.conninfo("app", "apppass", "app")); }

    // PQprepare: "" on success, else "SQLSTATE: message".
    static std::string prepare(PqConn& conn, const std::string& name, const std::string& sql, int params = 0) {
        PGresult* result = PQprepare(conn.raw(), name.c_str(), sql.c_str(), params, nullptr);
        std::string outcome = describe(result, PGRES_COMMAND_OK);
        PQclear(result);
        return outcome;
    }
    // PQexecPrepared with text parameters: the first value, or "SQLSTATE: message" on error.
    static std::string execPrepared(PqConn& conn, const std::string& name, const std::vector<std::string>& values) {
        std::vector<const char*> params;
        for (const auto& value : values) params.push_back(value.c_str());
        PGresult* result = PQexecPrepared(conn.raw(), name.c_str(), static_cast<int>(params.size()), params.data(),
                                          nullptr, nullptr, 0);
        std::string outcome = describe(result, PGRES_TUPLES_OK);
        if (outcome.empty()) outcome = PQntuples(result) > 0 ? PQgetvalue(result, 0, 0) : "(no row)";
        PQclear(result);
        return outcome;
    }
    static std::string describe(PGresult* result, ExecStatusType expected) {
        if (PQresultStatus(result) == expected) return "";
        const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
        return std::string(state ? state : "?") + ": " + PQresultErrorMessage(result);
    }
    std::string context() { return "\n--- sluice log:\n" + lastLines(sluice_.log(), 15); }

    SluiceProcess sluice_;
};

TEST_F(PreparedStatements, ClientsWithTheSameNamesAndDifferentTextsEachGetTheirOwn) {
    startSluice();
    constexpr int kClients = 6;
    std::vector<PqConn> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.push_back(client());
        ASSERT_TRUE(clients.back().isOk()) << clients.back().error();
        ASSERT_EQ(prepare(clients.back(), "s", "SELECT $1::int + " + std::to_string(i * 1000), 1), "") << context();
        ASSERT_EQ(prepare(clients.back(), "same", "SELECT 'same'::text"), "") << context();
    }
    // Round after round, each client on whichever of the two servers is free.
    for (int round = 0; round < 10; ++round) {
        for (int i = 0; i < kClients; ++i) {
            EXPECT_EQ(execPrepared(clients[i], "s", {std::to_string(round)}), std::to_string(i * 1000 + round))
                << "client " << i << context();
            EXPECT_EQ(execPrepared(clients[i], "same", {}), "same");
        }
    }
    // Describe of a statement the server it lands on may never have seen.
    PGresult* described = PQdescribePrepared(clients[3].raw(), "s");
    EXPECT_EQ(PQresultStatus(described), PGRES_COMMAND_OK) << PQresultErrorMessage(described);
    EXPECT_EQ(PQnparams(described), 1);
    EXPECT_EQ(PQftype(described, 0), 23u);  // int4
    PQclear(described);
    // Two servers, two distinct texts per client plus the shared one: at most 7 per server.
    PqConn admin(sluice_.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    auto servers = admin.exec("SHOW SERVERS");
    ASSERT_TRUE(servers.ok) << servers.describe();
    for (size_t r = 0; r < servers.rows.size(); ++r) {
        for (size_t c = 0; c < servers.columns.size(); ++c) {
            if (servers.columns[c] == "prepared_statements") {
                EXPECT_LE(std::stoi(servers.value(r, c)), kClients + 1);
            }
        }
    }
}

TEST_F(PreparedStatements, APipelineWithAnErrorInTheMiddleAnswersAsPostgreSqlDoes) {
    startSluice();
    // The same pipeline through Sluice and straight to PostgreSQL: the same results, in order.
    auto runPipeline = [](PqConn& conn) {
        std::vector<std::string> results;
        PGconn* raw = conn.raw();
        if (PQenterPipelineMode(raw) != 1) return std::vector<std::string>{"no pipeline mode"};
        PQsendPrepare(raw, "ok", "SELECT 41 + 1", 0, nullptr);
        PQsendQueryPrepared(raw, "ok", 0, nullptr, nullptr, nullptr, 0);
        PQsendPrepare(raw, "bad", "SELEC 1", 0, nullptr);
        PQsendQueryPrepared(raw, "ok", 0, nullptr, nullptr, nullptr, 0);  // skipped: the batch failed
        PQpipelineSync(raw);
        PQsendQueryPrepared(raw, "ok", 0, nullptr, nullptr, nullptr, 0);  // "ok" survived: its batch was
        PQsendQueryPrepared(raw, "bad", 0, nullptr, nullptr, nullptr, 0);  // "bad" never existed
        PQpipelineSync(raw);
        int syncs = 0;
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (syncs < 2 && std::chrono::steady_clock::now() < deadline) {
            PGresult* result = PQgetResult(raw);
            if (!result) continue;  // end of one query's results
            const ExecStatusType status = PQresultStatus(result);
            std::string entry = PQresStatus(status);
            if (status == PGRES_TUPLES_OK) entry += " " + std::string(PQgetvalue(result, 0, 0));
            if (const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE)) entry += " " + std::string(state);
            if (status == PGRES_PIPELINE_SYNC) ++syncs;
            results.push_back(entry);
            PQclear(result);
        }
        PQexitPipelineMode(raw);
        return results;
    };
    PqConn direct(sharedPg().tcpConninfo("app", "apppass", "app"));
    PqConn pooled = client();
    const auto expected = runPipeline(direct);
    ASSERT_GE(expected.size(), 7u);
    EXPECT_EQ(runPipeline(pooled), expected) << context();
}

TEST_F(PreparedStatements, CloseThenParseTheSameNameAgainAndUnknownNames) {
    startSluice();
    PqConn conn = client();
    ASSERT_EQ(prepare(conn, "s", "SELECT 1"), "");
    ASSERT_EQ(execPrepared(conn, "s", {}), "1");
    // libpq 15 has no PQclosePrepared: DEALLOCATE ALL forgets the client's statements, as it does
    // on a direct connection.
    ASSERT_TRUE(conn.exec("DEALLOCATE ALL").ok) << context();
    EXPECT_EQ(execPrepared(conn, "s", {}).substr(0, 5), "26000") << "a deallocated statement must be gone";
    ASSERT_EQ(prepare(conn, "s", "SELECT 2"), "");
    EXPECT_EQ(execPrepared(conn, "s", {}), "2") << context();
    // An unknown name: PostgreSQL's own error, with the client's name in it.
    const std::string unknown = execPrepared(conn, "nope", {});
    EXPECT_EQ(unknown.substr(0, 5), "26000") << unknown;
    EXPECT_NE(unknown.find("\"nope\""), std::string::npos) << unknown;
    // A Parse that fails creates nothing, and the connection goes on.
    EXPECT_EQ(prepare(conn, "broken", "SELEC 1").substr(0, 5), "42601");
    EXPECT_EQ(execPrepared(conn, "broken", {}).substr(0, 5), "26000");
    EXPECT_EQ(execPrepared(conn, "s", {}), "2");
    // A name in use: PostgreSQL's 42P05, and the statement of that name is still the first.
    const std::string again = prepare(conn, "s", "SELECT 3");
    EXPECT_EQ(again.substr(0, 5), "42P05") << again;
    EXPECT_NE(again.find("prepared statement \"s\" already exists"), std::string::npos) << again;
    EXPECT_EQ(execPrepared(conn, "s", {}), "2") << context();
}

TEST_F(PreparedStatements, TheLeastRecentlyUsedStatementMakesRoomOnAFullServer) {
    startSluice("max_prepared_statements = 2\ndefault_pool_size = 1\n", 1);
    PqConn conn = client();
    // (Names built by append: GCC 12 warns, wrongly, about "s" + std::to_string(i) here.)
    auto name = [](int i) { return std::string("s").append(std::to_string(i)); };
    for (int i = 0; i < 5; ++i) ASSERT_EQ(prepare(conn, name(i), "SELECT " + std::to_string(i)), "");
    for (int round = 0; round < 2; ++round)
        for (int i = 0; i < 5; ++i) EXPECT_EQ(execPrepared(conn, name(i), {}), std::to_string(i));
    // On PostgreSQL, the one server holds at most two of the pooler's statements.
    PqConn direct(sharedPg().socketConninfo("app"));
    auto held = direct.exec("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND datname = 'app'");
    ASSERT_TRUE(held.ok);
    EXPECT_EQ(held.value(), "1");
    PqConn admin(sluice_.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    auto servers = admin.exec("SHOW SERVERS");
    ASSERT_TRUE(servers.ok);
    for (size_t c = 0; c < servers.columns.size(); ++c) {
        if (servers.columns[c] == "prepared_statements") {
            EXPECT_EQ(servers.value(0, c), "2");
        }
    }
}

TEST_F(PreparedStatements, DeallocateAllAndDiscardAllForgetOnlyTheClientsOwn) {
    startSluice("default_pool_size = 1\n", 1);
    PqConn a = client(), b = client();
    ASSERT_EQ(prepare(a, "mine", "SELECT 'a'::text"), "");
    ASSERT_EQ(prepare(b, "mine", "SELECT 'b'::text"), "");
    ASSERT_TRUE(b.exec("DEALLOCATE ALL").ok);
    EXPECT_EQ(execPrepared(b, "mine", {}).substr(0, 5), "26000");
    EXPECT_EQ(execPrepared(a, "mine", {}), "a") << context();
    // DISCARD ALL runs on the shared server, which then holds nothing: the client that sent it
    // loses its own statements, the other's are prepared again there when next used.
    ASSERT_EQ(prepare(b, "mine", "SELECT 'b again'::text"), "");
    ASSERT_TRUE(b.exec("DISCARD ALL").ok) << context();
    EXPECT_EQ(execPrepared(b, "mine", {}).substr(0, 5), "26000");
    EXPECT_EQ(execPrepared(a, "mine", {}), "a") << context();
}

// Beyond PgBouncer: PREPARE / EXECUTE / DEALLOCATE in SQL work as on a direct connection.
TEST_F(PreparedStatements, SqlPrepareInOneTransactionAndExecuteInLaterOnes) {
    startSluice();
    constexpr int kClients = 10;
    std::vector<PqConn> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.push_back(client());
        auto prepared = clients.back().exec("PREPARE q (int) AS SELECT $1 + " + std::to_string(i * 100));
        ASSERT_TRUE(prepared.ok) << prepared.describe() << context();
        EXPECT_EQ(prepared.commandTag, "PREPARE");
        ASSERT_TRUE(clients.back().exec("prepare \"Same\" as select 'same'::text;").ok) << context();
    }
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < kClients; ++i) {
            auto result = clients[i].exec("EXECUTE q(" + std::to_string(round) + ")");
            ASSERT_TRUE(result.ok) << "client " << i << ": " << result.describe() << context();
            EXPECT_EQ(result.value(), std::to_string(i * 100 + round));
            EXPECT_EQ(clients[i].exec("EXECUTE \"Same\"").value(), "same");
        }
    }
    // Inside a transaction block too.
    PqConn& c = clients[0];
    ASSERT_TRUE(c.exec("BEGIN").ok);
    ASSERT_TRUE(c.exec("PREPARE inblock AS SELECT 'in block'::text").ok) << context();
    EXPECT_EQ(c.exec("EXECUTE inblock").value(), "in block");
    ASSERT_TRUE(c.exec("COMMIT").ok);
    EXPECT_EQ(c.exec("EXECUTE inblock").value(), "in block");
}

// psycopg 3 drops statements from its cache with DEALLOCATE sent as PQexecParams does: the
// extended protocol, the unnamed statement. The name is the client's, unknown to the server.
TEST_F(PreparedStatements, DeallocateInTheExtendedProtocolAsPsycopgSendsIt) {
    startSluice("default_pool_size = 1\n", 1);
    PqConn a = client(), b = client();
    auto execParams = [](PqConn& conn, const std::string& sql) {
        PGresult* result = PQexecParams(conn.raw(), sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0);
        std::string outcome = describe(result, PGRES_COMMAND_OK);
        if (outcome.empty()) outcome = PQcmdStatus(result);
        PQclear(result);
        return outcome;
    };
    ASSERT_EQ(prepare(a, "_pg3_0", "SELECT 'a'::text"), "") << context();
    ASSERT_EQ(prepare(b, "_pg3_0", "SELECT 'a'::text"), "") << context();
    EXPECT_EQ(execParams(a, "DEALLOCATE _pg3_0"), "DEALLOCATE") << context();
    EXPECT_EQ(execPrepared(a, "_pg3_0", {}).substr(0, 5), "26000");
    EXPECT_EQ(execPrepared(b, "_pg3_0", {}), "a") << "another client's statement of the same text stays";
    ASSERT_EQ(prepare(a, "_pg3_0", "SELECT 'again'::text"), "") << context();
    EXPECT_EQ(execPrepared(a, "_pg3_0", {}), "again");
    const std::string unknown = execParams(a, "deallocate nope");
    EXPECT_EQ(unknown.substr(0, 5), "26000") << unknown;
    EXPECT_NE(unknown.find("\"nope\""), std::string::npos) << unknown;
    EXPECT_EQ(execPrepared(a, "_pg3_0", {}), "again") << "the session goes on" << context();
    // Inside a transaction block too (DEALLOCATE is not undone by a rollback).
    ASSERT_TRUE(a.exec("BEGIN").ok);
    EXPECT_EQ(execParams(a, "DEALLOCATE \"_pg3_0\""), "DEALLOCATE") << context();
    ASSERT_TRUE(a.exec("ROLLBACK").ok);
    EXPECT_EQ(execPrepared(a, "_pg3_0", {}).substr(0, 5), "26000");
    // DEALLOCATE ALL (psycopg sends it after each ROLLBACK) forgets a's names only: the server
    // keeps b's statement, which is not prepared again.
    ASSERT_EQ(prepare(a, "_pg3_1", "SELECT 'a'::text"), "") << context();
    EXPECT_EQ(execParams(a, "DEALLOCATE ALL"), "DEALLOCATE ALL") << context();
    EXPECT_EQ(execPrepared(a, "_pg3_1", {}).substr(0, 5), "26000");
    EXPECT_EQ(execPrepared(b, "_pg3_0", {}), "a") << context();
    PqConn admin(sluice_.conninfo(PgServer::kSuperuser, PgServer::kSuperPassword, "pgbouncer"));
    auto stats = admin.exec("SHOW STATS");
    ASSERT_TRUE(stats.ok) << stats.describe();
    for (size_t r = 0; r < stats.rows.size(); ++r) {
        for (size_t c = 0; c < stats.columns.size(); ++c) {
            if (stats.value(r, 0) == "app" && stats.columns[c] == "total_server_parse_count") {
                EXPECT_EQ(stats.value(r, c), "2") << "'a' and 'again', once each" << context();
            }
        }
    }
}

TEST_F(PreparedStatements, SqlPrepareErrorsAreTheOnesPostgreSqlGives) {
    startSluice();
    PqConn a = client(), b = client();
    ASSERT_TRUE(a.exec("PREPARE x AS SELECT 1").ok);
    EXPECT_EQ(a.exec("PREPARE x AS SELECT 2").sqlstate, "42P05");
    EXPECT_EQ(a.exec("DEALLOCATE nope").sqlstate, "26000");
    EXPECT_EQ(a.exec("EXECUTE nope").sqlstate, "26000");
    EXPECT_EQ(a.exec("PREPARE broken AS SELEC 1").sqlstate, "42601");
    EXPECT_EQ(a.exec("EXECUTE broken").sqlstate, "26000") << "a failed PREPARE creates nothing";
    // b has its own namespace: the same name is free there, and DEALLOCATE ALL is its own.
    ASSERT_TRUE(b.exec("PREPARE x AS SELECT 'b'::text").ok) << context();
    ASSERT_TRUE(b.exec("DEALLOCATE ALL").ok);
    EXPECT_EQ(b.exec("EXECUTE x").sqlstate, "26000");
    EXPECT_EQ(a.exec("EXECUTE x").value(), "1") << context();
    ASSERT_TRUE(a.exec("DEALLOCATE PREPARE x").ok);
    EXPECT_EQ(a.exec("EXECUTE x").sqlstate, "26000");
    // In a failed transaction the server answers, as it would.
    ASSERT_TRUE(a.exec("BEGIN").ok);
    EXPECT_FALSE(a.exec("SELECT 1/0").ok);
    EXPECT_EQ(a.exec("DEALLOCATE ALL").sqlstate, "25P02");
    ASSERT_TRUE(a.exec("ROLLBACK").ok);
}

// PQexecPrepared without parameters: the first row's values joined by ',', or "SQLSTATE: message".
std::string rowOf(PqConn& conn, const std::string& name) {
    PGresult* result = PQexecPrepared(conn.raw(), name.c_str(), 0, nullptr, nullptr, nullptr, 0);
    std::string outcome;
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
        outcome = std::string(state ? state : "?") + ": " + PQresultErrorMessage(result);
    } else if (PQntuples(result) > 0) {
        for (int column = 0; column < PQnfields(result); ++column) {
            if (column > 0) outcome += ',';
            outcome += PQgetvalue(result, 0, column);
        }
    }
    PQclear(result);
    return outcome;
}

TEST_F(PreparedStatements, AStatementWhoseResultDdlChangedIsPreparedAgainWithoutAnError) {
    startSluice("default_pool_size = 1\n", 1);  // one server, which holds every statement
    const std::string table = "ps_drift_" + std::to_string(::getpid());
    sharedPg().exec("DROP TABLE IF EXISTS " + table + "; CREATE TABLE " + table + " (a int DEFAULT 1); INSERT INTO " +
                        table + " DEFAULT VALUES; ALTER TABLE " + table + " OWNER TO app",
                    "app");
    const std::string query = "SELECT * FROM " + table;
    PqConn a = client(), b = client();
    ASSERT_EQ(prepare(a, "s", query), "") << context();
    ASSERT_TRUE(a.exec("PREPARE q AS " + query).ok) << context();
    EXPECT_EQ(rowOf(a, "s"), "1");
    EXPECT_EQ(a.exec("EXECUTE q").value(), "1");
    sharedPg().exec("ALTER TABLE " + table + " ADD COLUMN b int DEFAULT 2", "app");
    // b prepares the same text after the DDL (the pooler answers: the server has it), and would
    // never see the old plan on a direct connection: it must not here either.
    ASSERT_EQ(prepare(b, "t", query), "") << context();
    EXPECT_EQ(rowOf(b, "t"), "1,2") << context();
    // a's own statements are prepared again too (PostgreSQL would have refused them once).
    EXPECT_EQ(rowOf(a, "s"), "1,2") << context();
    auto executed = a.exec("EXECUTE q");
    ASSERT_TRUE(executed.ok) << executed.describe() << context();
    EXPECT_EQ(executed.columns.size(), 2u);
    // Inside a transaction block the refusal fails the block, as on a direct connection; the
    // statement is prepared again for the next use.
    sharedPg().exec("ALTER TABLE " + table + " ADD COLUMN c int DEFAULT 3", "app");
    ASSERT_TRUE(a.exec("BEGIN").ok);
    EXPECT_EQ(rowOf(a, "s").substr(0, 6), "0A000:");
    ASSERT_TRUE(a.exec("ROLLBACK").ok);
    EXPECT_EQ(rowOf(a, "s"), "1,2,3") << context();
    EXPECT_EQ(rowOf(b, "t"), "1,2,3") << context();
}

TEST_F(PreparedStatements, AParseLargerThanMaxPacketSizeIsRefusedAndTheSessionGoesOn) {
    startSluice("max_packet_size = 16384\n");
    PqConn a = client();
    ASSERT_EQ(prepare(a, "small", "SELECT 'small'::text"), "") << context();
    const std::string large = "SELECT '" + std::string(40000, 'x') + "'::text";
    const std::string refused = prepare(a, "large", large);
    EXPECT_EQ(refused.substr(0, 6), "54000:") << refused;
    EXPECT_NE(refused.find("max_packet_size"), std::string::npos) << refused;
    // The session goes on: its statements, new ones, and the server it used.
    EXPECT_EQ(execPrepared(a, "small", {}), "small") << context();
    EXPECT_EQ(execPrepared(a, "large", {}).substr(0, 6), "26000:") << "a refused Parse makes nothing";
    ASSERT_EQ(prepare(a, "next", "SELECT 'next'::text"), "") << context();
    EXPECT_EQ(execPrepared(a, "next", {}), "next");
    EXPECT_EQ(a.exec("SELECT 1").value(), "1");
    // In a pipeline the refusal fails its batch, as an error there does in PostgreSQL.
    ASSERT_EQ(PQenterPipelineMode(a.raw()), 1);
    ASSERT_EQ(PQsendPrepare(a.raw(), "p1", "SELECT 'p1'::text", 0, nullptr), 1);
    ASSERT_EQ(PQsendPrepare(a.raw(), "p2", large.c_str(), 0, nullptr), 1);
    ASSERT_EQ(PQsendQueryPrepared(a.raw(), "small", 0, nullptr, nullptr, nullptr, 0), 1);
    ASSERT_EQ(PQpipelineSync(a.raw()), 1);
    std::vector<std::string> outcomes;
    while (outcomes.size() < 4) {
        PGresult* result = PQgetResult(a.raw());
        if (!result) continue;  // the end of one query's results
        const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
        outcomes.push_back(std::string(PQresStatus(PQresultStatus(result))) + (state ? std::string(" ") + state : ""));
        PQclear(result);
    }
    EXPECT_EQ(outcomes, (std::vector<std::string>{"PGRES_COMMAND_OK", "PGRES_FATAL_ERROR 54000",
                                                  "PGRES_PIPELINE_ABORTED", "PGRES_PIPELINE_SYNC"}))
        << context();
    ASSERT_EQ(PQexitPipelineMode(a.raw()), 1);
    EXPECT_EQ(execPrepared(a, "p1", {}), "p1") << "Parse before the error stays, as in PostgreSQL";
    EXPECT_EQ(a.exec("SELECT 2").value(), "2");
}

TEST_F(PreparedStatements, OffWithZeroAsInPgBouncer) {
    startSluice("max_prepared_statements = 0\ndefault_pool_size = 1\n", 1);
    PqConn a = client(), b = client();
    ASSERT_EQ(prepare(a, "x", "SELECT 1"), "");
    // The statement went to the server under the client's own name: the next client sees it.
    EXPECT_EQ(prepare(b, "x", "SELECT 2").substr(0, 5), "42P05");
}

}  // namespace
}  // namespace sluice::itest
