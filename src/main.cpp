// sluice [options] pooler.ini — PgBouncer's command line, so existing service files keep working.
#include <getopt.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "auth/auth_file.h"
#include "config/config.h"
#include "server/server.h"
#include "util/version.h"

namespace {

constexpr const char* kUsage =
    "Sluice, a PostgreSQL connection pooler (PgBouncer-compatible).\n"
    "\n"
    "Usage:\n"
    "  sluice [OPTION]... CONFIG_FILE\n"
    "\n"
    "Options:\n"
    "  -d, --daemon         run in the background (needs logfile or syslog)\n"
    "  -q, --quiet          do not log to stderr\n"
    "  -v, --verbose        log more; repeat for even more (-vv)\n"
    "  -u, --user=USERNAME  switch to USERNAME after startup\n"
    "  -R, --reboot         online restart: take the listening sockets and the clients over\n"
    "                       from the process running with this configuration (through its\n"
    "                       unix socket), which then exits; none running: start normally\n"
    "      --check          validate CONFIG_FILE (and its auth_file), print problems, and exit\n"
    "      --settings       list every setting with its default and exit\n"
    "  -V, --version        print the version and exit\n"
    "  -h, --help           print this help and exit\n"
    "\n"
    "Signals: SIGHUP reloads the configuration; SIGTERM stops after the clients have left;\n"
    "SIGINT stops after the servers are released; SIGQUIT stops at once. A second signal\n"
    "escalates the shutdown. SIGUSR1 pauses (queries wait, servers close), SIGUSR2 resumes.\n"
    "\n"
    "Environment: SLUICE_<SETTING>=VALUE overrides one setting of the file, e.g.\n"
    "SLUICE_DEFAULT_POOL_SIZE=20 (validated as in the file, kept on reload). Under systemd,\n"
    "NOTIFY_SOCKET and WATCHDOG_USEC are honoured (Type=notify), and sockets passed with\n"
    "LISTEN_FDS/LISTEN_PID (socket activation) replace listen_addr and unix_socket_dir.\n"
    "\n"
    "The configuration file is PgBouncer's pgbouncer.ini format; see pooler.ini(5).\n";


// The table as tab-separated lines, for scripts/gen_settings_docs.py (man page, sample config).
void printSettingsTsv() {
    for (const auto& def : sluice::config::settingTable()) {
        std::printf("%s\t%s\t%s\t%s\t%s\t%s\n", std::string(def.name).c_str(), std::string(def.defaultValue).c_str(),
                    std::string(def.unit).c_str(), def.reloadable ? "reload" : "restart",
                    def.supported ? "supported" : "not-yet", std::string(def.description).c_str());
    }
}

void printSettings() {
    for (const auto& def : sluice::config::settingTable()) {
        std::printf("%-32s %-24s %s%s%s\n", std::string(def.name).c_str(),
                    (def.defaultValue.empty() ? std::string("''") : std::string(def.defaultValue)).c_str(),
                    std::string(def.description).c_str(), def.reloadable ? "" : " [restart]",
                    def.supported ? "" : " [not supported yet]");
    }
}

int checkConfig(const std::string& path) {
    auto loaded = sluice::config::loadConfig(path);
    if (!loaded) {
        std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
        return 1;
    }
    if (auto status = sluice::config::applyEnvironmentOverrides(*loaded, sluice::config::sluiceEnvironment()); !status) {
        std::fprintf(stderr, "%s\n", status.error().message.c_str());
        return 1;
    }
    for (const auto& warning : loaded->warnings) std::fprintf(stderr, "WARNING %s\n", warning.c_str());
    const std::string& authFile = loaded->settings.auth_file;
    if (!authFile.empty()) {
        auto users = sluice::auth::loadAuthFile(authFile);
        if (!users) {
            std::fprintf(stderr, "%s\n", users.error().message.c_str());
            return 1;
        }
    }
    std::printf("%s: configuration is valid\n", path.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    enum { kCheck = 1000, kSettings, kSettingsTsv };
    static const option longOptions[] = {
        {"daemon", no_argument, nullptr, 'd'},   {"quiet", no_argument, nullptr, 'q'},
        {"verbose", no_argument, nullptr, 'v'},  {"user", required_argument, nullptr, 'u'},
        {"reboot", no_argument, nullptr, 'R'},
        {"version", no_argument, nullptr, 'V'},  {"help", no_argument, nullptr, 'h'},
        {"check", no_argument, nullptr, kCheck}, {"settings", no_argument, nullptr, kSettings},
        {"settings-tsv", no_argument, nullptr, kSettingsTsv},
        {nullptr, 0, nullptr, 0},
    };
    sluice::server::Options options;
    bool check = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "dqvu:RVh", longOptions, nullptr)) != -1) {
        switch (opt) {
            case 'd': options.daemon = true; break;
            case 'q': options.quiet = true; break;
            case 'v': ++options.verbose; break;
            case 'u': options.user = optarg; break;
            case 'R': options.reboot = true; break;
            case 'V': std::printf("%s\n", sluice::versionLine().c_str()); return 0;
            case 'h': std::fputs(kUsage, stdout); return 0;
            case kCheck: check = true; break;
            case kSettings: printSettings(); return 0;
            case kSettingsTsv: printSettingsTsv(); return 0;
            default: std::fputs("Try 'sluice --help' for more information.\n", stderr); return 1;
        }
    }
    if (optind != argc - 1) {
        std::fprintf(stderr, "sluice: %s\nTry 'sluice --help' for more information.\n",
                     optind >= argc ? "a configuration file is required" : "only one configuration file may be given");
        return 1;
    }
    options.configPath = argv[optind];
    if (check) return checkConfig(options.configPath);
    sluice::server::Server server(options);
    return server.run();
}
