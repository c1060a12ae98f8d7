// Helpers shared by the transaction/statement pooling tests (txn_*_test.cpp): bounded waits on
// a condition, the backends PostgreSQL sees, and the error a pooler sends before it closes a
// connection that libpq is not reading.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pq_util.h"

namespace sluice::itest {

// Polls `condition` every `step` until it holds (true) or `timeout` passes (false).
bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds step = 20ms);

// Backends of user `app` in database `app` (the pooler's servers in these tests). Counted over a
// connection of its own, so no new backend per call.
int appBackends();
// Ends what an earlier test's pooler left behind (a backend still running a dead client's
// pg_sleep, one still closing) so that counts start from zero: terminates every backend of user
// app in database app and waits, bounded, until PostgreSQL shows none. False if some are left.
bool clearAppBackends(std::chrono::milliseconds timeout = 5s);

// Samples a count every `period` on a thread of its own and remembers the largest value seen.
class MaxSampler {
public:
    // `count` runs on the sampling thread; -1 means "could not count" and is ignored.
    MaxSampler(std::function<int()> count, std::chrono::milliseconds period = 50ms);
    ~MaxSampler() { stop(); }
    MaxSampler(const MaxSampler&) = delete;
    MaxSampler& operator=(const MaxSampler&) = delete;

    void stop();
    int max() const { return max_.load(); }
    int samples() const { return samples_.load(); }

private:
    std::atomic<bool> stop_{false};
    std::atomic<int> max_{0};
    std::atomic<int> samples_{0};
    std::thread thread_;
};

// What a pooler said before it closed a connection the client was not reading from: the
// ErrorResponse's SQLSTATE and message (empty when none came), and whether the connection closed.
struct Goodbye {
    bool error = false;
    std::string sqlstate;
    std::string message;
    bool closed = false;
    std::string describe() const;
};

// Reads straight from the socket of an idle libpq connection (libpq has not consumed what came
// since its last result, so the bytes are there) until EOF, for at most `timeout`.
Goodbye awaitGoodbye(const PqConn& conn, std::chrono::milliseconds timeout);

// The SQLSTATE and message of a failed login, or, when the login succeeded (a pooler may connect
// to the server only at the first query), of that first query ("SELECT 1"); both empty when the
// query succeeded too.
std::pair<std::string, std::string> loginOrFirstQueryError(PqConn& conn);

// Counts backends with `sql` (a SELECT count(*) ...) over one superuser connection of its own.
class PgCounter {
public:
    PgCounter();
    int count(const std::string& sql);  // -1 when the query failed
    // Waits (bounded) until PostgreSQL runs `query` (its exact text) in `backends` backends.
    bool waitForActive(const std::string& query, int backends = 1, std::chrono::milliseconds timeout = 10s);

private:
    PqConn conn_;
};

// psql's Ctrl-C for each of `clients`, whose queries run: a CancelRequest each, on a connection of
// its own; every query must end canceled (57014), all within 10 s (gtest expectations).
void expectEveryCancelToWork(std::vector<PqConn>& clients);

}  // namespace sluice::itest
