// bench_idle_clients: opens N authenticated libpq connections from one process and holds
// them idle until SIGTERM or SIGINT, so the benchmark can weigh what an idle client costs
// a pooler (memory, CPU).
//
//   bench_idle_clients "<conninfo>" N [max_in_flight] [timeout_s]
//
// Connections are opened without blocking (PQconnectStart/PQconnectPoll) with at most
// max_in_flight (default 256) logins under way, so a pooler's listen backlog is not
// flooded. When every connection has finished logging in, or failed, or timeout_s
// (default 300) has passed, it prints one line to stdout and waits for a signal:
//
//   READY ok=<n> failed=<n> seconds=<login time> first_error=<message or ->
//
// On the signal it closes every connection (libpq sends Terminate) and exits 0 when all N
// logged in, 1 when some did not, 2 on bad arguments.
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

struct PgConnCloser {
    void operator()(PGconn* conn) const { PQfinish(conn); }
};

// One connection and the direction PQconnectPoll last asked to wait for.
struct Slot {
    std::unique_ptr<PGconn, PgConnCloser> conn;
    PostgresPollingStatusType want = PGRES_POLLING_WRITING;
    bool done = false;
};

long parseCount(const char* text, long min, long max) {
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < min || value > max) return -1;
    return value;
}

// Every connection needs a descriptor; ask for the hard limit rather than fail at 1024.
void raiseFdLimit(long needed) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    if (limit.rlim_cur != RLIM_INFINITY && static_cast<long>(limit.rlim_cur) < needed) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
        if (limit.rlim_cur != RLIM_INFINITY && static_cast<long>(limit.rlim_cur) < needed) {
            std::fprintf(stderr, "bench_idle_clients: open file limit %ld is below the %ld needed\n",
                         static_cast<long>(limit.rlim_cur), needed);
        }
    }
}

std::string oneLine(const char* message) {
    std::string text = message ? message : "";
    for (char& c : text) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text.empty() ? "-" : text;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3 || argc > 5) {
        std::fprintf(stderr, "usage: %s \"<conninfo>\" N [max_in_flight] [timeout_s]\n", argv[0]);
        return 2;
    }
    const char* conninfo = argv[1];
    const long total = parseCount(argv[2], 1, 1000000);
    const long maxInFlight = argc > 3 ? parseCount(argv[3], 1, 100000) : 256;
    const long timeoutSeconds = argc > 4 ? parseCount(argv[4], 1, 86400) : 300;
    if (total < 0 || maxInFlight < 0 || timeoutSeconds < 0) {
        std::fprintf(stderr, "bench_idle_clients: N, max_in_flight and timeout_s must be positive integers\n");
        return 2;
    }
    raiseFdLimit(total + 64);

    // Blocked here, taken with sigwait once the clients are idle: no handler races the loop.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGTERM);
    sigaddset(&stopSignals, SIGINT);
    sigprocmask(SIG_BLOCK, &stopSignals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::seconds(timeoutSeconds);
    std::vector<Slot> slots(static_cast<size_t>(total));
    std::vector<size_t> inFlight;
    std::vector<pollfd> fds;
    long started = 0, ok = 0, failed = 0;
    std::string firstError;

    auto fail = [&](Slot& slot, const std::string& why) {
        if (firstError.empty()) firstError = why;
        slot.conn.reset();
        slot.done = true;
        ++failed;
    };

    while (ok + failed < total && std::chrono::steady_clock::now() < deadline) {
        while (started < total && static_cast<long>(inFlight.size()) < maxInFlight) {
            Slot& slot = slots[static_cast<size_t>(started)];
            slot.conn.reset(PQconnectStart(conninfo));
            if (!slot.conn || PQstatus(slot.conn.get()) == CONNECTION_BAD) {
                fail(slot, slot.conn ? oneLine(PQerrorMessage(slot.conn.get())) : "out of memory");
            } else {
                inFlight.push_back(static_cast<size_t>(started));
            }
            ++started;
        }
        if (inFlight.empty()) continue;

        fds.clear();
        for (size_t index : inFlight) {
            const Slot& slot = slots[index];
            const short events = slot.want == PGRES_POLLING_READING ? POLLIN : POLLOUT;
            fds.push_back(pollfd{PQsocket(slot.conn.get()), events, 0});
        }
        if (poll(fds.data(), fds.size(), 100) < 0) continue;

        std::vector<size_t> stillInFlight;
        for (size_t i = 0; i < inFlight.size(); ++i) {
            Slot& slot = slots[inFlight[i]];
            if (fds[i].revents == 0) {
                stillInFlight.push_back(inFlight[i]);
                continue;
            }
            slot.want = PQconnectPoll(slot.conn.get());
            if (slot.want == PGRES_POLLING_OK) {
                slot.done = true;
                ++ok;
            } else if (slot.want == PGRES_POLLING_FAILED) {
                fail(slot, oneLine(PQerrorMessage(slot.conn.get())));
            } else {
                stillInFlight.push_back(inFlight[i]);
            }
        }
        inFlight.swap(stillInFlight);
    }
    // Whatever has not logged in by the deadline counts as failed.
    for (Slot& slot : slots) {
        if (!slot.done) fail(slot, "login timed out");
    }

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("READY ok=%ld failed=%ld seconds=%.2f first_error=%s\n", ok, failed, seconds,
                firstError.empty() ? "-" : firstError.c_str());
    std::fflush(stdout);

    int signo = 0;
    sigwait(&stopSignals, &signo);
    slots.clear();  // PQfinish on each: Terminate, close
    return failed == 0 ? 0 : 1;
}
