// Real drivers' named prepared statements through Sluice in transaction pooling (issue 12):
// psycopg 3, pgjdbc, node-postgres, postgres.js, DBD::Pg and ruby-pg. Each runs its script of
// test/drivers/ (the scenario is in test/drivers/README.md): 8 concurrent clients on a pool of 2
// servers, statements that share names with different texts, 2808 checked executions, also in
// pipelines and inside transactions; first straight to PostgreSQL (the baseline), then through
// Sluice. Every value must be right, PostgreSQL must have logged no error (pgjdbc and
// postgres.js silently prepare again after "prepared statement does not exist", which only the
// log shows), and the servers must have parsed each statement about once, not once per use.
//
// The runtimes and drivers come from `make deps` (scripts/deps.sh): a test whose driver is
// missing is skipped, saying so.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <ostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "admin_util.h"
#include "pg_server.h"
#include "shell_util.h"
#include "sluice_process.h"
#include "txn_util.h"

namespace sluice::itest {
namespace {

constexpr int kClients = 8;
constexpr int kPoolSize = 2;
constexpr int kRounds = 50;
// Every script: 7 checked executions of prepared statements a round, and a final count.
constexpr long long kExecutions = kClients * (kRounds * 7 + 1);

const std::string kScripts = SLUICE_SOURCE_DIR "/test/drivers";

struct Driver {
    std::string name;     // the first word of the script's summary line
    std::string command;  // runs the script; LABEL=HOST:PORT targets are appended
    std::string probe;    // a shell command that succeeds when the runtime and the driver are there
    std::string package;  // what provides them, for the skip message
    // Distinct statements (text and parameter types) the driver prepares through the pooler:
    // the servers may parse each once, so at most servers × this many Parses.
    int statements;
};

// gtest's name for a parameter (else it prints the struct's bytes).
void PrintTo(const Driver& driver, std::ostream* out) { *out << driver.name; }

std::vector<Driver> drivers() {
    return {
        // stmt_a's two texts, stmt_b, the insert, the count (pg_backend_pid() is not prepared).
        {"psycopg", "/usr/bin/python3 " + kScripts + "/psycopg_clients.py",
         "/usr/bin/python3 -c 'import psycopg'", "python3-psycopg", 5},
        // The same five, and pgjdbc's own BEGIN, COMMIT, ROLLBACK, pg_backend_pid() and the
        // setup's three statements (prepareThreshold=1 prepares every statement).
        {"pgjdbc", "java -cp /usr/share/java/postgresql.jar " + kScripts + "/java/PgjdbcClients.java",
         "javac -version && test -r /usr/share/java/postgresql.jar",
         "openjdk-17-jdk-headless, libpostgresql-jdbc-java", 12},
        {"pg", "node " + kScripts + "/node/pg_clients.js",
         "node -e \"require('" + kScripts + "/node/node_modules/pg')\"", "npm pg (test/drivers/node)", 5},
        // The five, and its own COMMIT, ROLLBACK and its query of array types at connect.
        {"postgres.js", "node " + kScripts + "/node/postgresjs_clients.js",
         "node -e \"require('" + kScripts + "/node/node_modules/postgres')\"", "npm postgres (test/drivers/node)", 8},
        // The five, and stmt_s's two texts prepared in SQL.
        {"DBD::Pg", "perl " + kScripts + "/dbd_pg_clients.pl", "perl -MDBD::Pg -e 1", "libdbd-pg-perl", 7},
        {"ruby-pg", "ruby " + kScripts + "/ruby_pg_clients.rb", "ruby -rpg -e 1", "ruby, ruby-pg", 5},
    };
}

std::string testName(const ::testing::TestParamInfo<Driver>& info) {
    std::string name;
    for (char c : info.param.name)
        if (std::isalnum(static_cast<unsigned char>(c))) name += c;
    return name;
}

// The key=value figures of the summary line "<driver> <label>: clients=8 … errors=0"; empty
// when the line is missing.
std::map<std::string, long long> summary(const std::string& output, const std::string& driver,
                                         const std::string& label) {
    std::map<std::string, long long> figures;
    std::istringstream lines(output);
    const std::string start = driver + " " + label + ": ";
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind(start, 0) != 0) continue;
        static const std::regex pair(R"((\w+)=(\d+))");
        for (std::sregex_iterator it(line.begin(), line.end(), pair), end; it != end; ++it)
            figures[(*it)[1]] = std::stoll((*it)[2]);
    }
    return figures;
}

// The lines of PostgreSQL's log, from `offset` on, with an error of user app in database app.
std::string appErrorsSince(size_t offset) {
    const std::string log = sharedPg().logContents();
    std::istringstream lines(log.size() > offset ? log.substr(offset) : "");
    std::string errors;
    for (std::string line; std::getline(lines, line);)
        if (line.find("app@app ERROR:") != std::string::npos) errors += line + "\n";
    return errors;
}

class Drivers : public ::testing::TestWithParam<Driver> {
protected:
    void SetUp() override {
        const Driver& driver = GetParam();
        if (run(driver.probe, 30).status != 0)
            GTEST_SKIP() << driver.name << " is not installed (" << driver.package << "): run `make deps`";
    }

    void startSluice(const std::string& extra = "") {
        ASSERT_TRUE(clearAppBackends());
        // pgjdbc sends extra_float_digits at startup: PgBouncer's users ignore it so too.
        ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), freePort(),
                                           "pool_mode = transaction\ndefault_pool_size = " +
                                               std::to_string(kPoolSize) +
                                               "\nignore_startup_parameters = extra_float_digits\n" + extra)));
    }

    // The script against `targets` ("LABEL=HOST:PORT …"), bounded.
    RunResult runScript(const Driver& driver, const std::string& targets, int rounds = kRounds) {
        const std::string command = "env DRIVER_USER=app DRIVER_PASSWORD=apppass DRIVER_DB=app DRIVER_CLIENTS=" +
                                    std::to_string(kClients) + " DRIVER_ROUNDS=" + std::to_string(rounds) + " " +
                                    driver.command + " " + targets;
        RunResult result = run(command, 120);
        result.output = "$ " + command + "\n" + result.output;
        return result;
    }
    std::string sluiceTarget() const { return "sluice=127.0.0.1:" + std::to_string(sluice_.port()); }
    std::string directTarget() const { return "direct=127.0.0.1:" + std::to_string(sharedPg().port()); }
    std::string context(const RunResult& result) {
        // (Built by append: GCC 12 warns, wrongly, about "\n" + std::string here.)
        return std::string("\n").append(lastLines(result.output, 30)).append("--- sluice log:\n").append(
            lastLines(sluice_.log(), 15));
    }

    SluiceProcess sluice_;
};

TEST_P(Drivers, NamedStatementsOnSharedServersAsOnADirectConnection) {
    const Driver& driver = GetParam();
    startSluice();
    const size_t logOffset = sharedPg().logContents().size();
    const auto started = std::chrono::steady_clock::now();
    const RunResult result = runScript(driver, directTarget() + " " + sluiceTarget());
    const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    EXPECT_EQ(result.status, 0) << context(result);
    const auto direct = summary(result.output, driver.name, "direct");
    const auto pooled = summary(result.output, driver.name, "sluice");
    ASSERT_FALSE(direct.empty()) << "no summary of the direct run" << context(result);
    EXPECT_EQ(direct.at("errors"), 0) << "the baseline, straight to PostgreSQL" << context(result);
    EXPECT_EQ(direct.at("executions"), kExecutions) << context(result);
    ASSERT_FALSE(pooled.empty()) << "no summary of the run through Sluice" << context(result);
    EXPECT_EQ(pooled.at("errors"), 0) << context(result);
    EXPECT_EQ(pooled.at("executions"), kExecutions) << context(result);
    // Eight clients on a pool of two: both servers served them.
    EXPECT_GE(pooled.at("backends"), kPoolSize) << context(result);
    EXPECT_EQ(appErrorsSince(logOffset), "") << "PostgreSQL logged errors: a driver may have hidden them";

    // The statements were the pooler's: each server parsed each about once.
    const long long serverParses = statsValue(sluice_, "total_server_parse_count");
    const long long clientParses = statsValue(sluice_, "total_client_parse_count");
    const long long binds = statsValue(sluice_, "total_bind_count");
    const auto serversOpened = static_cast<long long>(countOf(sluice_.log(), "new connection to server"));
    EXPECT_GE(serverParses, 1);
    EXPECT_LE(serverParses, serversOpened * driver.statements)
        << serversOpened << " servers opened, " << driver.statements << " distinct statements" << context(result);
    EXPECT_GE(binds, kExecutions) << "the executions were not of prepared statements";
    std::printf("[ drivers  ] %s: %lld executions through Sluice, %lld server parses (%lld servers, %d statements), "
                "%lld client parses, %lld binds; direct and pooled runs %.1f s\n",
                driver.name.c_str(), pooled.at("executions"), serverParses, serversOpened, driver.statements,
                clientParses, binds, seconds);
}

// The suite can fail: without the pooler's statements (max_prepared_statements = 0, PgBouncer
// before 1.21) the clients' names reach the servers, where two clients' names of different
// texts collide (42P05) or a client's statement is missing on the server it lands on (26000).
// The drivers that name statements as told (node-postgres, ruby-pg) or per connection (psycopg,
// pgjdbc, DBD::Pg) fail; postgres.js, whose names are random, and pgjdbc prepare again after
// 26000 without a word, which PostgreSQL's log shows.
TEST_P(Drivers, FailWithoutThePoolersStatements) {
    const Driver& driver = GetParam();
    startSluice("max_prepared_statements = 0\n");
    const size_t logOffset = sharedPg().logContents().size();
    const RunResult result = runScript(driver, sluiceTarget(), 5);
    const std::string errors = appErrorsSince(logOffset);
    EXPECT_TRUE(result.status != 0 || !errors.empty())
        << "neither the script nor PostgreSQL saw a failure" << context(result);
    std::printf("[ drivers  ] %s without the pooler's statements: exit status %d, %zu errors in PostgreSQL's log\n",
                driver.name.c_str(), result.status, countOf(errors, "\n"));
}

INSTANTIATE_TEST_SUITE_P(, Drivers, ::testing::ValuesIn(drivers()), testName);

}  // namespace
}  // namespace sluice::itest
