// bench_idle_clients: opens N authenticated libpq connections from one process and holds
// them idle until SIGTERM or SIGINT, so the benchmark can weigh what an idle client costs
// a pooler (memory, CPU), or throw a storm of logins at it beside busy clients.
//
//   bench_idle_clients "<conninfo>" N [max_in_flight] [timeout_s] [hosts]
//
// Connections are opened without blocking (test/common/libpq_logins.h) with at most
// max_in_flight (default 256) logins under way, so a pooler's listen backlog is not
// flooded. hosts, a comma-separated list of addresses (e.g. 127.0.0.1,127.0.0.2), spreads
// the connections over them round-robin (host= appended to the conninfo): one destination
// address and port allows only about 28,000 connections from the ephemeral port range.
// When every connection has finished logging in, or failed, or timeout_s (default 300) has
// passed, it prints one line to stdout and waits for a signal:
//
//   READY ok=<n> failed=<n> seconds=<login time> first_error=<message or ->
//
// On the signal it closes every connection (libpq sends Terminate) and exits 0 when all N
// logged in, 1 when some did not, 2 on bad arguments.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "libpq_logins.h"

namespace {

long parseCount(const char* text, long min, long max) {
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < min || value > max) return -1;
    return value;
}

// The conninfo once, or once per host with host=<address> appended (the last value wins).
std::vector<std::string> conninfosFor(const std::string& conninfo, const char* hosts) {
    if (!hosts) return {conninfo};
    std::vector<std::string> conninfos;
    std::stringstream list(hosts);
    for (std::string host; std::getline(list, host, ',');) {
        if (!host.empty()) conninfos.push_back(conninfo + " host=" + host);
    }
    return conninfos;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3 || argc > 6) {
        std::fprintf(stderr, "usage: %s \"<conninfo>\" N [max_in_flight] [timeout_s] [hosts]\n", argv[0]);
        return 2;
    }
    const long total = parseCount(argv[2], 1, 1000000);
    const long maxInFlight = argc > 3 ? parseCount(argv[3], 1, 100000) : 256;
    const long timeoutSeconds = argc > 4 ? parseCount(argv[4], 1, 86400) : 300;
    const std::vector<std::string> conninfos = conninfosFor(argv[1], argc > 5 ? argv[5] : nullptr);
    if (total < 0 || maxInFlight < 0 || timeoutSeconds < 0 || conninfos.empty()) {
        std::fprintf(stderr, "bench_idle_clients: N, max_in_flight and timeout_s must be positive integers, hosts a list\n");
        return 2;
    }
    const long limit = sluice::logins::raiseFdLimit(total + 64);
    if (limit < total + 64) {
        std::fprintf(stderr, "bench_idle_clients: open file limit %ld is below the %ld needed\n", limit, total + 64);
    }

    // Blocked here, taken with sigwait once the clients are idle: no handler races the loop.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGTERM);
    sigaddset(&stopSignals, SIGINT);
    sigprocmask(SIG_BLOCK, &stopSignals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    std::vector<sluice::logins::PgConnPtr> connections;
    const sluice::logins::LoginReport report = sluice::logins::openConnections(
        conninfos, total, maxInFlight, std::chrono::seconds(timeoutSeconds), connections);
    std::printf("READY ok=%ld failed=%ld seconds=%.2f first_error=%s\n", report.ok, report.failed, report.seconds,
                report.firstError.empty() ? "-" : report.firstError.c_str());
    std::fflush(stdout);

    int signo = 0;
    sigwait(&stopSignals, &signo);
    connections.clear();  // PQfinish on each: Terminate, close
    return report.failed == 0 ? 0 : 1;
}
