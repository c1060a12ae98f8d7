// What the admin console may do to the process: the Server implements it on the control thread
// (DESIGN §3). The console never touches a connection directly; it asks every worker to.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "conn/connections.h"
#include "conn/console_gateway.h"
#include "conn/worker_report.h"
#include "util/result.h"

namespace sluice::admin {

enum class ShutdownMode { Immediate, WaitForServers, WaitForClients };

class Control {
public:
    virtual ~Control() = default;

    virtual const conn::Snapshot& snapshot() const = 0;
    // The hosts of multi-host databases (SHOW HOSTS).
    virtual const discovery::HostRegistry& hosts() const = 0;
    // Runs Connections::report() on every worker, then `done` on the control thread.
    virtual void collectReports(std::function<void(std::vector<conn::WorkerReport>)> done) = 0;
    // Runs `task` on every worker's thread.
    virtual void onEveryWorker(std::function<void(conn::Connections&)> task) = 0;
    // RELOAD: re-reads the configuration and auth_file; the error says why not.
    virtual Status reload() = 0;
    // SET key = value: a new snapshot with one setting changed (restart-only keys refused).
    // A notice for the console, if any ("" when none).
    virtual Result<std::string> applySetting(std::string_view key, std::string_view value) = 0;
    virtual void shutdown(ShutdownMode mode) = 0;
    // TAKEOVER: the online restart's old side (-R, DESIGN §3). The asking connection becomes the
    // channel everything is handed over on; an error is answered on it while it is still a
    // console connection.
    virtual void takeOver(const conn::ConsoleRequest& request) = 0;
    virtual bool shuttingDown() const = 0;
    // Sends the console's answer to the client that asked.
    virtual void reply(const conn::ConsoleRequest& to, std::string bytes, bool closeAfter = false) = 0;
};

}  // namespace sluice::admin
