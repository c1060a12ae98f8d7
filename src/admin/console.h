// The admin console (PgBouncer's virtual database "pgbouncer"; "sluice" is an alias): parses each
// query, checks the user's right to it, and answers with a result set, a command tag or an error.
// Runs on the control thread; it reads connections only through the workers' reports and changes
// them only through tasks posted to every worker (admin/control.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "admin/command.h"
#include "admin/control.h"
#include "admin/show.h"
#include "admin/stats.h"

namespace sluice::admin {

class Console {
public:
    explicit Console(Control& control) : control_(control) {}

    void execute(const conn::ConsoleRequest& request);
    // The control thread's tick: answers PAUSE, SUSPEND and WAIT_CLOSE once they are complete.
    void tick();
    // Every stats_period: a new sample for the averages, and the "stats:" log line.
    void recordStats(bool logLine);
    // SIGUSR1 / SIGUSR2: PAUSE / RESUME without a console client.
    void pauseAll();
    void resumeAll();
    const PauseState& pauseState() const { return pause_; }
    const StatsHistory& stats() const { return stats_; }

private:
    // A command that answers only once the workers have done what it asked.
    struct Wait {
        conn::ConsoleRequest request;
        std::string tag;
        std::function<bool(const Reports&)> done;
    };

    void runVerb(const conn::ConsoleRequest& request, const Command& command);
    void runSet(const conn::ConsoleRequest& request, const Command& command);
    void show(const conn::ConsoleRequest& request, const std::string& what);
    void pause(const conn::ConsoleRequest& request, const std::string& database);
    void resume(const conn::ConsoleRequest& request, const std::string& database);
    void kill(const conn::ConsoleRequest& request, const std::string& database);
    void killClient(const conn::ConsoleRequest& request, const std::string& argument);
    void waitClose(const conn::ConsoleRequest& request, const std::string& database);
    // A database name the console accepts as the argument of PAUSE, KILL …: "" when it is one,
    // else the error to send.
    std::string checkDatabase(const std::string& database, const char* verb) const;

    void answer(const conn::ConsoleRequest& request, const std::string& bytes, bool closeAfter = false);
    void answerTag(const conn::ConsoleRequest& request, std::string_view tag);
    void answerError(const conn::ConsoleRequest& request, std::string_view sqlstate, std::string_view message,
                     std::string_view detail = {});
    void answerResult(const conn::ConsoleRequest& request, const ResultSet& result);
    void withReports(std::function<void(const Reports&)> then);

    Control& control_;
    PauseState pause_;
    StatsHistory stats_;
    std::vector<Wait> waits_;
    bool checkingWaits_ = false;
};

}  // namespace sluice::admin
