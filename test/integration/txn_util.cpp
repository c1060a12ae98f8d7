#include "txn_util.h"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include "pg_server.h"

namespace sluice::itest {

using Clock = std::chrono::steady_clock;

std::pair<std::string, std::string> loginOrFirstQueryError(PqConn& conn) {
    if (!conn.isOk()) return {conn.sqlstate(), conn.error()};
    QueryResult result = conn.exec("SELECT 1", 12s);
    if (result.ok) return {};
    return {result.sqlstate, result.error};
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds step) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (condition()) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(step);
    }
}

PgCounter::PgCounter() : conn_(sharedPg().socketConninfo("postgres")) {}

bool PgCounter::waitForActive(const std::string& query, int backends, std::chrono::milliseconds timeout) {
    const std::string sql = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = " +
                            sqlLiteral(query);
    return waitUntil([&] { return count(sql) == backends; }, timeout);
}

int PgCounter::count(const std::string& sql) {
    if (!conn_.isOk()) conn_.connect(sharedPg().socketConninfo("postgres"));
    QueryResult result = conn_.exec(sql, 5s);
    if (!result.ok || result.rows.empty()) return -1;
    return std::stoi(result.value());
}

namespace {
const char* kAppBackendsSql =
    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname = 'app' "
    "AND usename = 'app'";
}  // namespace

int appBackends() {
    thread_local PgCounter counter;  // one connection per thread: samplers run beside the test
    return counter.count(kAppBackendsSql);
}

bool clearAppBackends(std::chrono::milliseconds timeout) {
    thread_local PgCounter counter;
    counter.count(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND "
        "datname = 'app' AND usename = 'app'");
    return waitUntil([] { return appBackends() == 0; }, timeout, 20ms);
}

MaxSampler::MaxSampler(std::function<int()> count, std::chrono::milliseconds period)
    : thread_([this, count = std::move(count), period] {
          while (!stop_.load()) {
              int value = count();
              if (value >= 0) {
                  samples_.fetch_add(1);
                  int seen = max_.load();
                  while (value > seen && !max_.compare_exchange_weak(seen, value)) {
                  }
              }
              std::this_thread::sleep_for(period);
          }
      }) {}

void MaxSampler::stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
}

std::string Goodbye::describe() const {
    std::string out = error ? "ErrorResponse " + sqlstate + " \"" + message + "\"" : "no ErrorResponse";
    return out + (closed ? ", then closed" : ", connection not closed");
}

Goodbye awaitGoodbye(const PqConn& conn, std::chrono::milliseconds timeout) {
    Goodbye out;
    if (conn.raw() == nullptr || PQsocket(conn.raw()) < 0) return out;
    RawClient socket(RawClient::Borrowed{PQsocket(conn.raw())});
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return out;
        auto msg = socket.readMessage(left);
        if (!msg) break;  // EOF, reset or timeout: waitClosed below tells which
        if (msg->type == 'E' && !out.error) {
            auto fields = errorFields(msg->body);
            out.error = true;
            out.sqlstate = fields['C'];
            out.message = fields['M'];
        }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    // readMessage consumed the EOF already when it returned nullopt on a closed socket; a second
    // recv() sees EOF again at once.
    out.closed = socket.waitClosed(std::max(left, std::chrono::milliseconds(1)));
    return out;
}

void expectEveryCancelToWork(std::vector<PqConn>& clients) {
    const auto started = std::chrono::steady_clock::now();
    for (auto& client : clients) EXPECT_TRUE(client.cancel()) << client.error();
    for (size_t i = 0; i < clients.size(); ++i) {
        QueryResult result = clients[i].collect(10s);
        EXPECT_EQ(result.sqlstate, "57014") << "query " << i << ": " << result.describe();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

}  // namespace sluice::itest
