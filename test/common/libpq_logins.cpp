#include "libpq_logins.h"

#include <poll.h>
#include <sys/resource.h>

namespace sluice::logins {

namespace {

std::string oneLine(const char* message) {
    std::string text = message ? message : "";
    for (char& c : text) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text.empty() ? "unknown error" : text;
}

}  // namespace

LoginReport openConnections(const std::vector<std::string>& conninfos, long total, long maxInFlight,
                            std::chrono::seconds timeout, std::vector<PgConnPtr>& opened) {
    LoginReport report;
    opened.clear();
    opened.resize(static_cast<size_t>(total));
    // What PQconnectPoll last asked to wait for, per connection.
    std::vector<PostgresPollingStatusType> want(static_cast<size_t>(total), PGRES_POLLING_WRITING);
    std::vector<size_t> inFlight, stillInFlight;
    std::vector<pollfd> fds;
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + timeout;
    long started = 0;

    auto fail = [&](size_t index, const std::string& why) {
        if (report.firstError.empty()) report.firstError = why;
        opened[index].reset();
        ++report.failed;
    };

    while (report.ok + report.failed < total && std::chrono::steady_clock::now() < deadline) {
        while (started < total && static_cast<long>(inFlight.size()) < maxInFlight) {
            const auto index = static_cast<size_t>(started++);
            opened[index].reset(PQconnectStart(conninfos[index % conninfos.size()].c_str()));
            if (!opened[index] || PQstatus(opened[index].get()) == CONNECTION_BAD) {
                fail(index, opened[index] ? oneLine(PQerrorMessage(opened[index].get())) : "out of memory");
            } else {
                inFlight.push_back(index);
            }
        }
        if (inFlight.empty()) continue;

        fds.clear();
        for (size_t index : inFlight) {
            const short events = want[index] == PGRES_POLLING_READING ? POLLIN : POLLOUT;
            fds.push_back(pollfd{PQsocket(opened[index].get()), events, 0});
        }
        if (poll(fds.data(), fds.size(), 100) < 0) continue;

        stillInFlight.clear();
        for (size_t i = 0; i < inFlight.size(); ++i) {
            const size_t index = inFlight[i];
            if (fds[i].revents == 0) {
                stillInFlight.push_back(index);
                continue;
            }
            want[index] = PQconnectPoll(opened[index].get());
            if (want[index] == PGRES_POLLING_OK) {
                ++report.ok;
            } else if (want[index] == PGRES_POLLING_FAILED) {
                fail(index, oneLine(PQerrorMessage(opened[index].get())));
            } else {
                stillInFlight.push_back(index);
            }
        }
        inFlight.swap(stillInFlight);
    }
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // Whatever has not logged in by the deadline counts as failed.
    for (size_t index : inFlight) fail(index, "login timed out");
    for (auto index = static_cast<size_t>(started); index < static_cast<size_t>(total); ++index)
        fail(index, "login timed out (never started)");
    return report;
}

long raiseFdLimit(long needed) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
    const auto want = static_cast<rlim_t>(needed);
    if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= want) return static_cast<long>(limit.rlim_cur);
    rlimit raised{want, limit.rlim_max == RLIM_INFINITY || limit.rlim_max >= want ? limit.rlim_max : want};
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
        // Not allowed to raise the hard limit: as far as it goes.
        raised = {limit.rlim_max, limit.rlim_max};
        setrlimit(RLIMIT_NOFILE, &raised);
    }
    getrlimit(RLIMIT_NOFILE, &limit);
    return limit.rlim_cur == RLIM_INFINITY ? needed : static_cast<long>(limit.rlim_cur);
}

}  // namespace sluice::logins
