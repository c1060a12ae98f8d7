// bench_failover_writer: the application side of `make bench-failover` (bench/failover.sh).
// N client threads, each with its own libpq connection, insert one row per transaction into
// failover_drill(client, seq, at) until stopped, and record what an application would see
// while the primary crashes and a standby is promoted.
//
//   bench_failover_writer [options] "<conninfo>"
//     --clients N          client threads (default 10)
//     --seconds S          run at most S seconds (default 60); SIGTERM or SIGINT stops it
//                          earlier, which is how bench/failover.sh ends a drill
//     --tx                 BEGIN; INSERT; COMMIT (three round trips) instead of an
//                          autocommit INSERT
//     --acks FILE          every acknowledged insert, one line each, tab-separated:
//                          client seq wall_us mono_us
//     --events FILE        every failed transaction, lost connection, failed connection
//                          attempt and reconnect, one JSON object per line
//     --ready FILE         created once every client has had one commit acknowledged
//     --backoff-ms MS      pause after a failed transaction or connection attempt (default 20)
//     --query-timeout S    a transaction still unanswered after S s is abandoned: its
//                          connection is closed and opened again (default 10)
//     --connect-timeout S  one connection attempt gives up after S s (default 5)
//
//   bench_failover_writer --wait-writable "<conninfo>" TIMEOUT_S
//     polls SELECT pg_is_in_recovery() every 2 ms on one connection (reconnecting if it is
//     lost) and prints {"writable_wall_us": ..., "writable_mono_us": ...,
//     "last_in_recovery_wall_us": ...} once it is false (the promotion ended between the
//     last and the first); exits 1 if that does not happen within TIMEOUT_S.
//
// Each attempt uses a new seq, so a row is never written twice; an attempt that failed may
// still have committed (the server can commit and crash before answering). A failed
// transaction is followed by a ROLLBACK when the connection is still up and in a
// transaction. A connection whose status went bad is closed and opened again, every
// backoff-ms, until the run ends.
//
// At the end it prints a JSON summary to stdout: counts, errors by SQLSTATE, the longest
// write gap (the largest interval between two consecutive acknowledged commits across all
// clients, or from the last one to the stop when writes never resumed), the first error and
// the first commit acknowledged after it. Times are CLOCK_REALTIME microseconds (wall_us,
// comparable with the script's clock) and CLOCK_MONOTONIC microseconds (mono_us).
// Exit status: 0 after a run (whatever it saw), 2 on bad arguments or unwritable files.
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

int64_t nowUs(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}
int64_t monoUs() { return nowUs(CLOCK_MONOTONIC); }
int64_t wallUs() { return nowUs(CLOCK_REALTIME); }

void sleepMs(long ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

std::string oneLine(const char* message) {
    std::string text = message ? message : "";
    for (char& c : text) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}

std::string jsonString(const std::string& text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

// ---- stopping ---------------------------------------------------------------------------
volatile sig_atomic_t gSignalled = 0;
void onStopSignal(int) { gSignalled = 1; }

// Clients start no transaction after stopAt, and give up on one in flight at hardStopAt.
std::atomic<int64_t> gStopAtMono{INT64_MAX};
std::atomic<int64_t> gHardStopAtMono{INT64_MAX};
constexpr int64_t kStopGraceUs = 2000000;

bool stopping() { return monoUs() >= gStopAtMono.load(std::memory_order_relaxed); }

// ---- records ------------------------------------------------------------------------------
struct Ack {
    int client;
    int64_t seq;
    int64_t wallUs;
    int64_t monoUs;
};

enum class EventKind { TxError, ConnectionLost, ConnectFailed, Reconnected };
const char* kindName(EventKind kind) {
    switch (kind) {
        case EventKind::TxError: return "tx_error";
        case EventKind::ConnectionLost: return "connection_lost";
        case EventKind::ConnectFailed: return "connect_failed";
        case EventKind::Reconnected: return "reconnected";
    }
    return "?";
}

struct Event {
    EventKind kind;
    int client;
    int64_t seq;  // the attempt's seq for tx_error, else -1
    int64_t wallUs;
    int64_t monoUs;
    std::string sqlstate;  // empty when the server sent none (e.g. the connection dropped)
    std::string message;
    bool connectionKept = false;  // tx_error: the connection was still up afterwards
};

struct ClientRecord {
    std::vector<Ack> acks;
    std::vector<Event> events;
    int64_t attempts = 0;
    int64_t abandonedAtStop = 0;  // a transaction still unanswered at the hard stop
};

struct Options {
    std::string conninfo;
    int clients = 10;
    double seconds = 60;
    bool tx = false;
    std::string acksPath, eventsPath, readyPath;
    long backoffMs = 20;
    double queryTimeout = 10;
    double connectTimeout = 5;
};

// ---- libpq with deadlines -----------------------------------------------------------------
// Waits until the socket is ready for `events`, the deadline passes (false) or the hard stop
// comes (false). Polls in slices so a stop is noticed.
bool waitSocket(PGconn* conn, short events, int64_t deadlineMono) {
    for (;;) {
        const int64_t now = monoUs();
        const int64_t limit = std::min(deadlineMono, gHardStopAtMono.load(std::memory_order_relaxed));
        if (now >= limit) return false;
        const int64_t sliceUs = std::min<int64_t>(limit - now, 50000);
        pollfd fd{PQsocket(conn), events, 0};
        if (fd.fd < 0) return true;  // let libpq report the broken connection
        const int rc = poll(&fd, 1, static_cast<int>((sliceUs + 999) / 1000));
        if (rc > 0) return true;
        if (rc < 0 && errno != EINTR) return true;
    }
}

PGconn* connectWithin(const std::string& conninfo, int64_t deadlineMono, std::string& error) {
    PGconn* conn = PQconnectStart(conninfo.c_str());
    if (!conn) {
        error = "out of memory";
        return nullptr;
    }
    if (PQstatus(conn) == CONNECTION_BAD) {
        error = oneLine(PQerrorMessage(conn));
        PQfinish(conn);
        return nullptr;
    }
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    for (;;) {
        if (state == PGRES_POLLING_OK) {
            PQsetnonblocking(conn, 1);
            // Notices (PostgreSQL's "terminating connection due to immediate shutdown
            // command" is a WARNING) are not failures; they would only clutter stderr.
            PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
            return conn;
        }
        if (state == PGRES_POLLING_FAILED) {
            error = oneLine(PQerrorMessage(conn));
            PQfinish(conn);
            return nullptr;
        }
        if (!waitSocket(conn, state == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadlineMono)) {
            error = "connection attempt timed out (client side)";
            PQfinish(conn);
            return nullptr;
        }
        state = PQconnectPoll(conn);
    }
}

struct QueryResult {
    enum { Ok, Error, Timeout } outcome = Ok;
    std::string sqlstate, message;
};

// Sends one simple query and reads every result; the first error wins.
QueryResult runQuery(PGconn* conn, const char* sql, int64_t deadlineMono) {
    QueryResult result;
    auto fail = [&](const char* message) {
        result.outcome = QueryResult::Error;
        result.message = oneLine(message);
        return result;
    };
    if (!PQsendQuery(conn, sql)) return fail(PQerrorMessage(conn));
    for (;;) {
        const int flushed = PQflush(conn);
        if (flushed == 0) break;
        if (flushed < 0) return fail(PQerrorMessage(conn));
        if (!waitSocket(conn, POLLIN | POLLOUT, deadlineMono)) {
            result.outcome = QueryResult::Timeout;
            return result;
        }
        if (!PQconsumeInput(conn)) return fail(PQerrorMessage(conn));
    }
    for (;;) {
        while (!PQisBusy(conn)) {
            PGresult* res = PQgetResult(conn);
            if (!res) return result;
            const ExecStatusType status = PQresultStatus(res);
            if (result.outcome == QueryResult::Ok && status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
                result.outcome = QueryResult::Error;
                const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
                const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
                result.sqlstate = state ? state : "";
                result.message = oneLine(primary ? primary : PQresultErrorMessage(res));
                if (result.message.empty()) result.message = oneLine(PQerrorMessage(conn));
                if (const char* detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL))
                    result.message += " (DETAIL: " + oneLine(detail) + ")";
            }
            PQclear(res);
            // A connection that broke mid-result can keep PQisBusy false with nothing more to
            // read; its status says so.
            if (PQstatus(conn) == CONNECTION_BAD) {
                if (result.outcome == QueryResult::Ok) return fail(PQerrorMessage(conn));
                return result;
            }
        }
        if (!waitSocket(conn, POLLIN, deadlineMono)) {
            result.outcome = QueryResult::Timeout;
            return result;
        }
        if (!PQconsumeInput(conn)) {
            if (result.outcome == QueryResult::Ok) return fail(PQerrorMessage(conn));
            return result;
        }
    }
}

// ---- one client ---------------------------------------------------------------------------
std::atomic<int> gReadyClients{0};

void clientLoop(const Options& options, int client, ClientRecord& record) {
    const int64_t queryTimeoutUs = static_cast<int64_t>(options.queryTimeout * 1e6);
    const int64_t connectTimeoutUs = static_cast<int64_t>(options.connectTimeout * 1e6);
    auto event = [&](EventKind kind, int64_t seq, std::string sqlstate, std::string message, bool kept) {
        record.events.push_back(Event{kind, client, seq, wallUs(), monoUs(), std::move(sqlstate), std::move(message),
                                      kept});
    };

    PGconn* conn = nullptr;
    bool everConnected = false, countedReady = false;
    int64_t seq = 0;
    while (!stopping()) {
        if (!conn) {
            std::string error;
            conn = connectWithin(options.conninfo, monoUs() + connectTimeoutUs, error);
            if (!conn) {
                if (stopping()) break;
                event(EventKind::ConnectFailed, -1, "", error, false);
                sleepMs(options.backoffMs);
                continue;
            }
            if (everConnected) event(EventKind::Reconnected, -1, "", "", true);
            everConnected = true;
        }

        ++seq;
        ++record.attempts;
        char insert[160];
        std::snprintf(insert, sizeof insert,
                      "INSERT INTO failover_drill(client, seq, at) VALUES (%d, %" PRId64 ", now())", client, seq);
        const int64_t deadline = monoUs() + queryTimeoutUs;
        QueryResult result;
        if (options.tx) {
            result = runQuery(conn, "BEGIN", deadline);
            if (result.outcome == QueryResult::Ok) result = runQuery(conn, insert, deadline);
            if (result.outcome == QueryResult::Ok) result = runQuery(conn, "COMMIT", deadline);
        } else {
            result = runQuery(conn, insert, deadline);
        }

        if (result.outcome == QueryResult::Ok) {
            record.acks.push_back(Ack{client, seq, wallUs(), monoUs()});
            if (!countedReady) {
                countedReady = true;
                gReadyClients.fetch_add(1);
            }
            continue;
        }
        if (result.outcome == QueryResult::Timeout) {
            if (monoUs() >= gHardStopAtMono.load()) {
                ++record.abandonedAtStop;
                break;
            }
            event(EventKind::TxError, seq, "", "no answer within --query-timeout (client side); connection closed",
                  false);
            event(EventKind::ConnectionLost, -1, "", "closed by the client after --query-timeout", false);
            PQfinish(conn);
            conn = nullptr;
            continue;
        }
        const bool kept = PQstatus(conn) == CONNECTION_OK;
        event(EventKind::TxError, seq, result.sqlstate, result.message, kept);
        if (!kept) {
            event(EventKind::ConnectionLost, -1, "", oneLine(PQerrorMessage(conn)), false);
            PQfinish(conn);
            conn = nullptr;
        } else if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
            const QueryResult rollback = runQuery(conn, "ROLLBACK", monoUs() + queryTimeoutUs);
            if (rollback.outcome != QueryResult::Ok || PQstatus(conn) != CONNECTION_OK) {
                event(EventKind::ConnectionLost, -1, rollback.sqlstate, "during ROLLBACK: " + rollback.message, false);
                PQfinish(conn);
                conn = nullptr;
            }
        }
        sleepMs(options.backoffMs);
    }
    if (conn) PQfinish(conn);
}

// ---- --wait-writable ----------------------------------------------------------------------
int waitWritable(const std::string& conninfo, double timeoutSeconds) {
    const int64_t deadline = monoUs() + static_cast<int64_t>(timeoutSeconds * 1e6);
    PGconn* conn = nullptr;
    std::string lastError = "never connected";
    int64_t lastInRecoveryWall = 0;  // when the last query that still saw recovery was sent
    while (monoUs() < deadline) {
        if (!conn) {
            conn = connectWithin(conninfo, std::min(deadline, monoUs() + 2000000), lastError);
            if (!conn) {
                sleepMs(10);
                continue;
            }
        }
        const int64_t sentWall = wallUs();
        PGresult* res = PQexec(conn, "SELECT pg_is_in_recovery()");
        const bool answered = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
        const bool writable = answered && std::strcmp(PQgetvalue(res, 0, 0), "f") == 0;
        if (!answered) lastError = oneLine(PQerrorMessage(conn));
        if (answered && !writable) lastInRecoveryWall = sentWall;
        PQclear(res);
        if (writable) {
            // The promotion ended between the two: after the last query that saw recovery
            // was sent, before this answer came.
            std::printf("{\"writable_wall_us\": %" PRId64 ", \"writable_mono_us\": %" PRId64
                        ", \"last_in_recovery_wall_us\": %" PRId64 "}\n",
                        wallUs(), monoUs(), lastInRecoveryWall);
            PQfinish(conn);
            return 0;
        }
        if (PQstatus(conn) != CONNECTION_OK) {
            PQfinish(conn);
            conn = nullptr;
        }
        sleepMs(2);
    }
    if (conn) PQfinish(conn);
    std::printf("{\"error\": %s}\n", jsonString("still in recovery (or unreachable) after the timeout; last error: " +
                                                (lastError.empty() ? std::string("-") : lastError))
                                         .c_str());
    return 1;
}

// ---- summary ------------------------------------------------------------------------------
void printSummary(const Options& options, const std::vector<ClientRecord>& records, int64_t startWall,
                  int64_t startMono, int64_t stopWall, int64_t stopMono) {
    std::vector<Ack> acks;
    std::vector<Event> events;
    int64_t attempts = 0, abandoned = 0;
    for (const auto& r : records) {
        acks.insert(acks.end(), r.acks.begin(), r.acks.end());
        events.insert(events.end(), r.events.begin(), r.events.end());
        attempts += r.attempts;
        abandoned += r.abandonedAtStop;
    }
    std::sort(acks.begin(), acks.end(), [](const Ack& a, const Ack& b) { return a.monoUs < b.monoUs; });
    std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.monoUs < b.monoUs; });

    int64_t txErrors = 0, kept = 0, lost = 0, connectFailed = 0, reconnects = 0;
    std::map<std::string, int64_t> bySqlstate;
    const Event* firstError = nullptr;
    for (const auto& e : events) {
        switch (e.kind) {
            case EventKind::TxError:
                ++txErrors;
                if (e.connectionKept) ++kept;
                ++bySqlstate[e.sqlstate.empty() ? "none" : e.sqlstate];
                break;
            case EventKind::ConnectionLost: ++lost; break;
            case EventKind::ConnectFailed: ++connectFailed; break;
            case EventKind::Reconnected: ++reconnects; break;
        }
        if (!firstError && (e.kind == EventKind::TxError || e.kind == EventKind::ConnectFailed)) firstError = &e;
    }

    // The longest interval without an acknowledged commit, between two of them, or from the
    // last one to the stop when that is longer (writes never resumed).
    int64_t gapUs = -1, gapFromWall = 0, gapToWall = 0;
    bool gapOpenAtStop = false;
    for (size_t i = 1; i < acks.size(); ++i) {
        const int64_t gap = acks[i].monoUs - acks[i - 1].monoUs;
        if (gap > gapUs) {
            gapUs = gap;
            gapFromWall = acks[i - 1].wallUs;
            gapToWall = acks[i].wallUs;
        }
    }
    if (!acks.empty() && stopMono - acks.back().monoUs > gapUs) {
        gapUs = stopMono - acks.back().monoUs;
        gapFromWall = acks.back().wallUs;
        gapToWall = stopWall;
        gapOpenAtStop = true;
    }
    const Ack* commitAfterError = nullptr;
    if (firstError) {
        for (const auto& a : acks) {
            if (a.monoUs > firstError->monoUs) {
                commitAfterError = &a;
                break;
            }
        }
    }

    std::printf("{\n");
    std::printf(" \"clients\": %d, \"mode\": \"%s\", \"backoff_ms\": %ld, \"query_timeout_s\": %g,\n", options.clients,
                options.tx ? "BEGIN/INSERT/COMMIT" : "autocommit INSERT", options.backoffMs, options.queryTimeout);
    std::printf(" \"start_wall_us\": %" PRId64 ", \"stop_wall_us\": %" PRId64 ", \"seconds\": %.3f,\n", startWall,
                stopWall, (stopMono - startMono) / 1e6);
    std::printf(" \"attempts\": %" PRId64 ", \"acknowledged\": %zu, \"errors\": %" PRId64
                ", \"errors_connection_kept\": %" PRId64 ",\n",
                attempts, acks.size(), txErrors, kept);
    std::printf(" \"errors_by_sqlstate\": {");
    bool first = true;
    for (const auto& [state, count] : bySqlstate) {
        std::printf("%s%s: %" PRId64, first ? "" : ", ", jsonString(state).c_str(), count);
        first = false;
    }
    std::printf("},\n");
    std::printf(" \"connections_lost\": %" PRId64 ", \"connect_failures\": %" PRId64 ", \"reconnects\": %" PRId64
                ", \"abandoned_at_stop\": %" PRId64 ",\n",
                lost, connectFailed, reconnects, abandoned);
    std::printf(" \"first_ack_wall_us\": %" PRId64 ", \"last_ack_wall_us\": %" PRId64 ",\n",
                acks.empty() ? 0 : acks.front().wallUs, acks.empty() ? 0 : acks.back().wallUs);
    if (gapUs >= 0) {
        std::printf(" \"longest_write_gap_ms\": %.1f, \"gap_from_wall_us\": %" PRId64 ", \"gap_to_wall_us\": %" PRId64
                    ", \"gap_open_at_stop\": %s,\n",
                    gapUs / 1e3, gapFromWall, gapToWall, gapOpenAtStop ? "true" : "false");
    } else {
        std::printf(" \"longest_write_gap_ms\": null,\n");
    }
    if (firstError) {
        std::printf(" \"first_error\": {\"wall_us\": %" PRId64 ", \"client\": %d, \"kind\": \"%s\", \"sqlstate\": %s, "
                    "\"message\": %s},\n",
                    firstError->wallUs, firstError->client, kindName(firstError->kind),
                    jsonString(firstError->sqlstate).c_str(), jsonString(firstError->message).c_str());
    } else {
        std::printf(" \"first_error\": null,\n");
    }
    if (commitAfterError) {
        std::printf(" \"first_commit_after_error_wall_us\": %" PRId64 ", \"error_to_commit_ms\": %.1f\n",
                    commitAfterError->wallUs, (commitAfterError->monoUs - firstError->monoUs) / 1e3);
    } else {
        std::printf(" \"first_commit_after_error_wall_us\": null, \"error_to_commit_ms\": null\n");
    }
    std::printf("}\n");
    std::fflush(stdout);
}

bool writeFiles(const Options& options, const std::vector<ClientRecord>& records) {
    bool ok = true;
    if (!options.acksPath.empty()) {
        FILE* f = std::fopen(options.acksPath.c_str(), "w");
        if (!f) {
            std::fprintf(stderr, "bench_failover_writer: %s: %s\n", options.acksPath.c_str(), std::strerror(errno));
            ok = false;
        } else {
            for (const auto& r : records)
                for (const auto& a : r.acks)
                    std::fprintf(f, "%d\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\n", a.client, a.seq, a.wallUs, a.monoUs);
            ok = std::fclose(f) == 0 && ok;
        }
    }
    if (!options.eventsPath.empty()) {
        std::vector<Event> events;
        for (const auto& r : records) events.insert(events.end(), r.events.begin(), r.events.end());
        std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.monoUs < b.monoUs; });
        FILE* f = std::fopen(options.eventsPath.c_str(), "w");
        if (!f) {
            std::fprintf(stderr, "bench_failover_writer: %s: %s\n", options.eventsPath.c_str(), std::strerror(errno));
            ok = false;
        } else {
            for (const auto& e : events) {
                std::fprintf(f,
                             "{\"wall_us\": %" PRId64 ", \"mono_us\": %" PRId64 ", \"client\": %d, \"kind\": \"%s\", "
                             "\"seq\": %" PRId64 ", \"sqlstate\": %s, \"message\": %s, \"connection_kept\": %s}\n",
                             e.wallUs, e.monoUs, e.client, kindName(e.kind), e.seq, jsonString(e.sqlstate).c_str(),
                             jsonString(e.message).c_str(), e.connectionKept ? "true" : "false");
            }
            ok = std::fclose(f) == 0 && ok;
        }
    }
    return ok;
}

bool parseNumber(const char* text, double min, double max, double& out) {
    char* end = nullptr;
    errno = 0;
    const double value = std::strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || value < min || value > max) return false;
    out = value;
    return true;
}

int usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--clients N] [--seconds S] [--tx] [--acks FILE] [--events FILE] [--ready FILE]\n"
                 "          [--backoff-ms MS] [--query-timeout S] [--connect-timeout S] \"<conninfo>\"\n"
                 "       %s --wait-writable \"<conninfo>\" TIMEOUT_S\n",
                 argv0, argv0);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && std::strcmp(argv[1], "--wait-writable") == 0) {
        double timeout = 0;
        if (argc != 4 || !parseNumber(argv[3], 0.1, 3600, timeout)) return usage(argv[0]);
        return waitWritable(argv[2], timeout);
    }

    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        double number = 0;
        const char* v = nullptr;
        if (arg == "--tx") {
            options.tx = true;
        } else if (arg == "--clients") {
            if (!(v = value()) || !parseNumber(v, 1, 1000, number)) return usage(argv[0]);
            options.clients = static_cast<int>(number);
        } else if (arg == "--seconds") {
            if (!(v = value()) || !parseNumber(v, 0.1, 86400, options.seconds)) return usage(argv[0]);
        } else if (arg == "--backoff-ms") {
            if (!(v = value()) || !parseNumber(v, 0, 10000, number)) return usage(argv[0]);
            options.backoffMs = static_cast<long>(number);
        } else if (arg == "--query-timeout") {
            if (!(v = value()) || !parseNumber(v, 0.01, 3600, options.queryTimeout)) return usage(argv[0]);
        } else if (arg == "--connect-timeout") {
            if (!(v = value()) || !parseNumber(v, 0.01, 3600, options.connectTimeout)) return usage(argv[0]);
        } else if (arg == "--acks") {
            if (!(v = value())) return usage(argv[0]);
            options.acksPath = v;
        } else if (arg == "--events") {
            if (!(v = value())) return usage(argv[0]);
            options.eventsPath = v;
        } else if (arg == "--ready") {
            if (!(v = value())) return usage(argv[0]);
            options.readyPath = v;
        } else if (!arg.empty() && arg[0] == '-') {
            return usage(argv[0]);
        } else if (options.conninfo.empty()) {
            options.conninfo = arg;
        } else {
            return usage(argv[0]);
        }
    }
    if (options.conninfo.empty()) return usage(argv[0]);

    struct sigaction action{};
    action.sa_handler = onStopSignal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);

    const int64_t startWall = wallUs(), startMono = monoUs();
    gStopAtMono = startMono + static_cast<int64_t>(options.seconds * 1e6);
    gHardStopAtMono = gStopAtMono.load() + kStopGraceUs;

    std::vector<ClientRecord> records(static_cast<size_t>(options.clients));
    std::vector<std::thread> threads;
    for (int c = 0; c < options.clients; ++c)
        threads.emplace_back(clientLoop, std::cref(options), c + 1, std::ref(records[static_cast<size_t>(c)]));

    // The main thread watches for the stop signal and the ready mark.
    bool readyWritten = options.readyPath.empty();
    while (!stopping()) {
        if (gSignalled) {
            const int64_t now = monoUs();
            gStopAtMono = now;
            gHardStopAtMono = now + kStopGraceUs;
            break;
        }
        if (!readyWritten && gReadyClients.load() == options.clients) {
            if (FILE* f = std::fopen(options.readyPath.c_str(), "w")) {
                std::fprintf(f, "%" PRId64 "\n", wallUs());
                std::fclose(f);
            }
            readyWritten = true;
        }
        sleepMs(10);
    }
    const int64_t stopWall = wallUs(), stopMono = monoUs();
    for (auto& t : threads) t.join();

    const bool filesOk = writeFiles(options, records);
    printSummary(options, records, startWall, startMono, stopWall, stopMono);
    return filesOk ? 0 : 2;
}
