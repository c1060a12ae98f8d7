// The process: config snapshots, the workers, and the control thread that turns signals into
// reloads and shutdowns (DESIGN §3).
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "conn/connections.h"
#include "pool/pool_registry.h"
#include "server/worker.h"

namespace sluice::server {

struct Options {
    std::string configPath;
    int verbose = 0;
    bool quiet = false;
    bool daemon = false;
    std::string user;  // -u: switch to this user after start
};

class Server {
public:
    explicit Server(Options options);
    ~Server();
    // Runs until shutdown; returns the process exit code.
    int run();

private:
    enum class Shutdown { None, WaitForClients, WaitForServers, Immediate };

    Result<conn::Snapshot> loadSnapshot() const;
    void applyLogging(const config::Settings& settings) const;
    void reload();
    void beginShutdown(Shutdown mode);
    void checkShutdown();
    static void onSignal(uv_signal_t* handle, int signum);
    static void onTimer(uv_timer_t* timer);
    bool writePidfile();
    void removePidfile();

    Options options_;
    conn::Snapshot snapshot_;
    pool::PoolRegistry pools_;
    conn::ProcessCounters counters_;
    std::vector<std::unique_ptr<Worker>> workers_;
    uv_loop_t loop_;
    std::vector<std::unique_ptr<uv_signal_t>> signals_;
    uv_timer_t timer_;
    Shutdown shutdown_ = Shutdown::None;
    std::string pidfile_;
    int exitCode_ = 0;
};

}  // namespace sluice::server
