#include "admin/console.h"

#include <charconv>

#include <fmt/format.h>

#include "admin/show_hosts.h"
#include "proto/builders.h"
#include "proto/codes.h"
#include "util/log.h"

namespace sluice::admin {

namespace {

// Parameters some drivers SHOW or SET on any connection; PgBouncer answers them with fixed values.
struct FakeParameter {
    const char* name;
    const char* value;
};
constexpr FakeParameter kFakeParameters[] = {{"client_encoding", "UTF8"},
                                             {"default_transaction_isolation", "read committed"},
                                             {"standard_conforming_strings", "on"},
                                             {"datestyle", "ISO"},
                                             {"timezone", "UTC"}};

const FakeParameter* fakeParameter(std::string_view name) {
    for (const auto& param : kFakeParameters)
        if (name.size() == std::string_view(param.name).size() &&
            std::equal(name.begin(), name.end(), param.name,
                       [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; }))
            return &param;
    return nullptr;
}

bool isConsoleName(std::string_view name) { return name == kConsoleDatabase || name == "sluice"; }

constexpr std::string_view kAdminNeeded = "admin access needed";

// PgBouncer refuses console commands with 08P01 (only a failed RELOAD has its own, F0000);
// scripts that drive PgBouncer's console check for it.
constexpr std::string_view kRefused = proto::sqlstate::kProtocolViolation;

// PgBouncer's log line for each console command, which operators grep for.
void logIssued(std::string_view verb, const std::string& argument) {
    if (argument.empty()) SLOG_INFO("{} command issued", verb);
    else SLOG_INFO("{} '{}' command issued", verb, argument);
}

}  // namespace

void Console::execute(const conn::ConsoleRequest& request) {
    SLOG_DEBUG("admin console query from {}: {}", request.user, request.query);
    stats_.countConsoleQuery();
    auto parsed = parseCommand(request.query);
    if (!parsed) {
        answerError(request, parsed.error().sqlstate, parsed.error().message);
        return;
    }
    const Command& command = parsed.value();
    switch (command.kind) {
        case Command::Kind::Empty: {
            std::string out;
            proto::appendEmptyQueryResponse(out);
            proto::appendReadyForQuery(out, 'I');
            answer(request, out);
            return;
        }
        case Command::Kind::Set: runSet(request, command); return;
        case Command::Kind::Verb: runVerb(request, command); return;
    }
}

void Console::runSet(const conn::ConsoleRequest& request, const Command& command) {
    if (fakeParameter(command.setKey)) {
        std::string out;
        proto::appendNoticeResponse(out, "NOTICE", "00000", "SET ignored");
        proto::appendCommandComplete(out, "SET");
        proto::appendReadyForQuery(out, 'I');
        answer(request, out);
        return;
    }
    if (!request.adminUser) {
        answerError(request, proto::sqlstate::kInsufficientPrivilege, kAdminNeeded);
        return;
    }
    auto applied = control_.applySetting(command.setKey, command.setValue);
    if (!applied) {
        answerError(request, applied.error().sqlstate.empty() ? "22023" : applied.error().sqlstate,
                    applied.error().message);
        return;
    }
    SLOG_INFO("SET {} = '{}' (admin console, user {})", command.setKey, command.setValue, request.user);
    std::string out;
    if (!applied.value().empty()) proto::appendNoticeResponse(out, "NOTICE", "01000", applied.value());
    proto::appendCommandComplete(out, fmt::format("SET {}={}", command.setKey, command.setValue));
    proto::appendReadyForQuery(out, 'I');
    answer(request, out);
}

void Console::runVerb(const conn::ConsoleRequest& request, const Command& command) {
    const std::string& verb = command.verb;
    const std::string& arg = command.argument;
    if (verb == "show" || verb == "select") {
        show(request, arg);
        return;
    }
    static const std::set<std::string> kVerbs = {"pause",    "resume", "disable", "enable",  "reconnect",
                                                 "kill",     "kill_client", "suspend", "shutdown", "wait_close",
                                                 "reload", "takeover"};
    if (!kVerbs.count(verb)) {
        answerError(request, proto::sqlstate::kSyntaxError,
                    fmt::format("invalid command '{}', use SHOW HELP;", request.query));
        return;
    }
    if (!request.adminUser) {
        answerError(request, proto::sqlstate::kInsufficientPrivilege, kAdminNeeded);
        return;
    }
    if (verb == "pause") return pause(request, arg);
    if (verb == "resume") return resume(request, arg);
    if (verb == "kill") return kill(request, arg);
    if (verb == "kill_client") return killClient(request, arg);
    if (verb == "wait_close") return waitClose(request, arg);
    if (verb == "takeover") {
        if (!arg.empty()) return answerError(request, proto::sqlstate::kSyntaxError, "TAKEOVER takes no argument");
        if (control_.shuttingDown())
            return answerError(request, proto::sqlstate::kObjectNotInPrerequisiteState, "pooler is shutting down");
        logIssued("TAKEOVER", "");
        return control_.takeOver(request);
    }
    if (verb == "reload") {
        if (!arg.empty()) return answerError(request, proto::sqlstate::kSyntaxError, "RELOAD takes no argument");
        logIssued("RELOAD", "");
        if (auto status = control_.reload(); !status) {
            SLOG_ERROR("RELOAD failed, keeping the current configuration: {}", status.error().message);
            return answerError(request, "F0000", "RELOAD failed, see logs for additional details",
                               status.error().message);
        }
        return answerTag(request, "RELOAD");
    }
    if (verb == "disable" || verb == "enable") {
        const bool disable = verb == "disable";
        if (arg.empty()) return answerError(request, proto::sqlstate::kSyntaxError, "a database is required");
        if (auto problem = checkDatabase(arg, disable ? "disable" : "enable"); !problem.empty())
            return answerError(request, kRefused, problem);
        logIssued(disable ? "DISABLE" : "ENABLE", arg);
        if (disable) pause_.disabledDatabases.insert(arg);
        else pause_.disabledDatabases.erase(arg);
        control_.onEveryWorker([arg, disable](conn::Connections& c) { c.setDisabled(arg, disable); });
        return answerTag(request, disable ? "DISABLE" : "ENABLE");
    }
    if (verb == "reconnect") {
        if (!arg.empty())
            if (auto problem = checkDatabase(arg, "reconnect"); !problem.empty())
                return answerError(request, kRefused, problem);
        logIssued("RECONNECT", arg);
        control_.onEveryWorker([arg](conn::Connections& c) { c.reconnect(arg); });
        return answerTag(request, "RECONNECT");
    }
    if (verb == "suspend") {
        if (!arg.empty()) return answerError(request, proto::sqlstate::kSyntaxError, "SUSPEND takes no argument");
        if (pause_.paused || pause_.suspended)
            return answerError(request, proto::sqlstate::kObjectNotInPrerequisiteState, "already suspended/paused");
        logIssued("SUSPEND", "");
        pause_.suspended = true;
        control_.onEveryWorker([](conn::Connections& c) { c.suspend(); });
        // Answered once every socket's output has drained.
        waits_.push_back({request, "SUSPEND", [](const Reports& reports) {
                              for (const auto& report : reports)
                                  for (const auto* rows : {&report.clients, &report.servers})
                                      for (const auto& row : *rows)
                                          if (row.queuedOutput > 0 && row.database != kConsoleDatabase) return false;
                              return true;
                          }});
        return;
    }
    // shutdown
    ShutdownMode mode = ShutdownMode::Immediate;
    std::string upper = arg;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "WAIT_FOR_SERVERS") mode = ShutdownMode::WaitForServers;
    else if (upper == "WAIT_FOR_CLIENTS") mode = ShutdownMode::WaitForClients;
    else if (!arg.empty())
        return answerError(request, proto::sqlstate::kSyntaxError,
                           "SHUTDOWN takes WAIT_FOR_SERVERS, WAIT_FOR_CLIENTS or nothing");
    logIssued(arg.empty() ? "SHUTDOWN" : "SHUTDOWN " + upper, "");
    // An immediate shutdown ends every connection, this one included: there is no answer.
    if (mode != ShutdownMode::Immediate) answerTag(request, "SHUTDOWN");
    control_.shutdown(mode);
}

std::string Console::checkDatabase(const std::string& database, const char* verb) const {
    if (isConsoleName(database)) return fmt::format("cannot {} admin db: {}", verb, database);
    const config::Config& config = *control_.snapshot().config;
    if (!config.databases.count(database) && !config.fallbackDatabase)
        return fmt::format("no such database: {}", database);
    return {};
}

void Console::pause(const conn::ConsoleRequest& request, const std::string& database) {
    if (pause_.paused || pause_.suspended)
        return answerError(request, proto::sqlstate::kObjectNotInPrerequisiteState, "already suspended/paused");
    if (!database.empty()) {
        if (auto problem = checkDatabase(database, "pause"); !problem.empty())
            return answerError(request, kRefused, problem);
        pause_.pausedDatabases.insert(database);
    } else {
        pause_.paused = true;
    }
    logIssued("PAUSE", database);
    control_.onEveryWorker([database](conn::Connections& c) { c.pause(database); });
    // PAUSE returns once every server of the scope is gone (released by its client, then closed).
    waits_.push_back({request, "PAUSE", [database](const Reports& reports) {
                          for (const auto& report : reports)
                              for (const auto& row : report.servers)
                                  if (database.empty() || row.database == database) return false;
                          return true;
                      }});
}

void Console::resume(const conn::ConsoleRequest& request, const std::string& database) {
    if (database.empty()) {
        if (control_.shuttingDown()) return answerError(request, kRefused, "pooler is shutting down");
        if (!pause_.paused && !pause_.suspended && pause_.pausedDatabases.empty())
            return answerError(request, proto::sqlstate::kObjectNotInPrerequisiteState,
                               "pooler is not paused/suspended");
        logIssued("RESUME", "");
        resumeAll();
    } else {
        if (!pause_.pausedDatabases.count(database))
            return answerError(request, proto::sqlstate::kObjectNotInPrerequisiteState,
                               fmt::format("database {} is not paused", database));
        logIssued("RESUME", database);
        pause_.pausedDatabases.erase(database);
        control_.onEveryWorker([database](conn::Connections& c) { c.resume(database); });
    }
    answerTag(request, "RESUME");
}

void Console::kill(const conn::ConsoleRequest& request, const std::string& database) {
    if (pause_.paused || pause_.suspended)
        return answerError(request, proto::sqlstate::kObjectNotInPrerequisiteState, "already suspended/paused");
    if (!database.empty()) {
        if (auto problem = checkDatabase(database, "kill"); !problem.empty())
            return answerError(request, kRefused, problem);
        pause_.pausedDatabases.insert(database);
    } else {
        pause_.paused = true;
    }
    logIssued("KILL", database);
    // As PgBouncer: the database stays paused (new queries wait) until RESUME.
    control_.onEveryWorker([database](conn::Connections& c) { c.kill(database); });
    answerTag(request, "KILL");
}

void Console::killClient(const conn::ConsoleRequest& request, const std::string& argument) {
    uint64_t id = 0;
    auto [end, ec] = std::from_chars(argument.data(), argument.data() + argument.size(), id);
    if (argument.empty() || ec != std::errc() || end != argument.data() + argument.size())
        return answerError(request, kRefused, "invalid client pointer supplied",
                           "KILL_CLIENT needs the id of a client (the id column of SHOW CLIENTS)");
    withReports([this, request, id](const Reports& reports) {
        bool found = false;
        for (const auto& report : reports)
            for (const auto* rows : {&report.clients, &report.loginClients})
                for (const auto& row : *rows) found |= row.id == id;
        if (!found) return answerError(request, kRefused, "client not found");
        logIssued("KILL_CLIENT", std::to_string(id));
        control_.onEveryWorker([id](conn::Connections& c) { c.killClient(id); });
        answerTag(request, "KILL_CLIENT");
    });
}

void Console::waitClose(const conn::ConsoleRequest& request, const std::string& database) {
    if (!database.empty())
        if (auto problem = checkDatabase(database, "wait in"); !problem.empty())
            return answerError(request, kRefused, problem);
    logIssued("WAIT_CLOSE", database);
    waits_.push_back({request, "WAIT_CLOSE", [database](const Reports& reports) {
                          for (const auto& report : reports)
                              for (const auto& row : report.servers)
                                  if (row.closeNeeded && (database.empty() || row.database == database)) return false;
                          return true;
                      }});
}

void Console::pauseAll() {
    pause_.paused = true;
    control_.onEveryWorker([](conn::Connections& c) { c.pause(); });
}

void Console::resumeAll() {
    pause_.paused = false;
    pause_.suspended = false;
    pause_.pausedDatabases.clear();
    control_.onEveryWorker([](conn::Connections& c) { c.resume(); });
}

void Console::tick() {
    if (waits_.empty() || checkingWaits_) return;
    checkingWaits_ = true;
    control_.collectReports([this](std::vector<conn::WorkerReport> reports) {
        checkingWaits_ = false;
        std::vector<Wait> still;
        for (auto& wait : waits_) {
            if (wait.done(reports)) answerTag(wait.request, wait.tag);
            else still.push_back(std::move(wait));
        }
        waits_ = std::move(still);
    });
}

void Console::recordStats(bool logLine) {
    control_.collectReports([this, logLine](std::vector<conn::WorkerReport> reports) {
        stats_.record(reports);
        if (logLine) SLOG_INFO("{}", stats_.logLine());
    });
}

void Console::show(const conn::ConsoleRequest& request, const std::string& what) {
    std::string name = what;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const conn::Snapshot& snapshot = control_.snapshot();
    if (const FakeParameter* param = fakeParameter(name)) {
        ResultSet set{{param->name, ColumnType::Text}};
        set.addRow({param->value});
        return answerResult(request, set);
    }
    if (name == "help") {
        std::string out;
        proto::appendNoticeResponse(out, "NOTICE", "00000", "Console usage", helpText());
        proto::appendCommandComplete(out, "SHOW");
        proto::appendReadyForQuery(out, 'I');
        return answer(request, out);
    }
    if (name == "config") return answerResult(request, showConfig(snapshot.config->settings));
    if (name == "version") return answerResult(request, showVersion());
    if (name == "state") return answerResult(request, showState(pause_));
    if (name == "dns_hosts") return answerResult(request, showDnsHosts());
    if (name == "dns_zones") return answerResult(request, showDnsZones());
    if (name == "peers") return answerResult(request, showPeers(*snapshot.config));
    if (name == "hosts") return answerResult(request, showHosts(hostRows(*snapshot.config, control_.hosts())));
    if (name == "fds") {
        if (!request.adminUser) return answerError(request, proto::sqlstate::kInsufficientPrivilege, kAdminNeeded);
        return withReports([this, request](const Reports& reports) { answerResult(request, showFds(reports)); });
    }
    static const std::map<std::string, std::function<ResultSet(Console&, const Reports&)>> kFromReports = {
        {"clients", [](Console&, const Reports& r) { return showClients(r); }},
        {"servers", [](Console&, const Reports& r) { return showServers(r); }},
        {"sockets", [](Console&, const Reports& r) { return showSockets(r, false); }},
        {"active_sockets", [](Console&, const Reports& r) { return showSockets(r, true); }},
        {"pools", [](Console&, const Reports& r) { return showPools(r); }},
        {"peer_pools", [](Console& c, const Reports& r) { return showPeerPools(r, *c.control_.snapshot().config); }},
        {"mem", [](Console&, const Reports& r) { return showMem(r); }},
        {"stats", [](Console& c, const Reports& r) { return c.stats_.showStats(r); }},
        {"stats_totals", [](Console& c, const Reports& r) { return c.stats_.showStatsTotals(r); }},
        {"stats_averages", [](Console& c, const Reports& r) { return c.stats_.showStatsAverages(r); }},
        {"totals", [](Console& c, const Reports& r) { return c.stats_.showTotals(r); }},
        {"lists",
         [](Console& c, const Reports& r) {
             return showLists(r, *c.control_.snapshot().config, *c.control_.snapshot().authFile);
         }},
        {"databases",
         [](Console& c, const Reports& r) {
             const config::Config& config = *c.control_.snapshot().config;
             return showDatabases(r, config, c.pause_, hostsInUse(hostRows(config, c.control_.hosts())));
         }},
        {"users",
         [](Console& c, const Reports& r) {
             return showUsers(r, *c.control_.snapshot().config, *c.control_.snapshot().authFile);
         }},
    };
    auto it = kFromReports.find(name);
    if (it == kFromReports.end())
        return answerError(request, proto::sqlstate::kSyntaxError,
                           fmt::format("invalid command '{}', use SHOW HELP;", request.query));
    auto format = it->second;
    withReports([this, request, format](const Reports& reports) { answerResult(request, format(*this, reports)); });
}

void Console::withReports(std::function<void(const Reports&)> then) {
    control_.collectReports([then = std::move(then)](std::vector<conn::WorkerReport> reports) { then(reports); });
}

void Console::answer(const conn::ConsoleRequest& request, const std::string& bytes, bool closeAfter) {
    control_.reply(request, bytes, closeAfter);
}

void Console::answerTag(const conn::ConsoleRequest& request, std::string_view tag) {
    std::string out;
    proto::appendCommandComplete(out, tag);
    proto::appendReadyForQuery(out, 'I');
    answer(request, out);
}

void Console::answerError(const conn::ConsoleRequest& request, std::string_view sqlstate, std::string_view message,
                          std::string_view detail) {
    SLOG_WARN("admin console ({}): {}", request.user, message);
    std::string out;
    proto::appendErrorResponse(out, "ERROR", sqlstate, message, detail);
    proto::appendReadyForQuery(out, 'I');
    answer(request, out);
}

void Console::answerResult(const conn::ConsoleRequest& request, const ResultSet& result) {
    std::string out;
    result.appendTo(out);
    proto::appendReadyForQuery(out, 'I');
    answer(request, out);
}

}  // namespace sluice::admin
