#include "sluice_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#ifndef SLUICE_BINARY
#error "SLUICE_BINARY (path of the built daemon) must be defined; CMake does it for integration_tests"
#endif

namespace sluice::itest {

namespace {

using Clock = std::chrono::steady_clock;

std::string trim(const std::string& text) {
    auto notSpace = [](unsigned char c) { return !std::isspace(c); };
    auto begin = std::find_if(text.begin(), text.end(), notSpace);
    auto end = std::find_if(text.rbegin(), text.rend(), notSpace).base();
    return begin < end ? std::string(begin, end) : std::string();
}

std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
    for (std::size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size()) {
        text.replace(pos, from.size(), to);
    }
    return text;
}

// The key of an ini line ("listen_port = 1" -> "listen_port"), "" for comments and sections.
std::string iniKey(const std::string& line) {
    std::string text = trim(line);
    if (text.empty() || text[0] == ';' || text[0] == '#' || text[0] == '[') return "";
    auto eq = text.find('=');
    return eq == std::string::npos ? "" : lower(trim(text.substr(0, eq)));
}

// The [pooler] (or [pgbouncer]) settings start() needs to know where to look for the listener.
std::vector<std::pair<std::string, std::string>> poolerSettings(const std::string& ini) {
    std::vector<std::pair<std::string, std::string>> settings;
    std::istringstream in(ini);
    std::string line;
    bool inPooler = false;
    while (std::getline(in, line)) {
        std::string text = trim(line);
        if (!text.empty() && text[0] == '[') {
            std::string section = lower(text);
            inPooler = section == "[pooler]" || section == "[pgbouncer]";
            continue;
        }
        std::string key = iniKey(text);
        if (!inPooler || key.empty()) continue;
        settings.emplace_back(key, trim(text.substr(text.find('=') + 1)));
    }
    return settings;
}

int decodeStatus(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return -1000;
}

std::string describeExit(int code) {
    if (code >= 0) return "exited with status " + std::to_string(code);
    return std::string("was killed by signal ") + std::to_string(-code) + " (" + strsignal(-code) + ")";
}

bool connectWithin(int fd, const sockaddr* addr, socklen_t len, int timeoutMs) {
    if (::connect(fd, addr, len) == 0) return true;
    if (errno != EINPROGRESS && errno != EAGAIN) return false;
    pollfd pfd{fd, POLLOUT, 0};
    if (::poll(&pfd, 1, timeoutMs) != 1) return false;
    int err = 0;
    socklen_t errLen = sizeof err;
    return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errLen) == 0 && err == 0;
}

bool acceptsTcp(const std::string& host, int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return false;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    bool ok = connectWithin(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr, 200);
    ::close(fd);
    return ok;
}

bool acceptsUnix(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    bool ok = connectWithin(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr, 200);
    ::close(fd);
    return ok;
}

}  // namespace

std::string SluiceProcess::defaultBinary() {
    if (const char* env = std::getenv("SLUICE_TEST_BINARY"); env != nullptr && *env != '\0') return env;
    return SLUICE_BINARY;
}

SluiceProcess::SluiceProcess(std::string binary) : binary_(std::move(binary)), dir_(makeTempDir("sluice-proc")) {}

SluiceProcess::~SluiceProcess() {
    stop();
    if (std::getenv("SLUICE_TEST_KEEP") == nullptr) {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
}

std::string SluiceProcess::writeFile(const std::string& name, const std::string& content) const {
    std::string path = dir_ + "/" + name;
    writeTextFile(path, content);
    return path;
}

std::string SluiceProcess::log() const { return readTextFile(dir_ + "/sluice.out"); }

::testing::AssertionResult SluiceProcess::failStart(const std::string& why) {
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        waitExit(10s);
    }
    return ::testing::AssertionFailure() << binary_ << " " << why << "\n--- its output (" << dir_
                                         << "/sluice.out, last 60 lines):\n"
                                         << lastLines(log(), 60) << "--- end of output";
}

::testing::AssertionResult SluiceProcess::start(const std::string& iniText, std::vector<std::string> extraArgs,
                                                std::chrono::milliseconds timeout) {
    if (pid_ > 0) return ::testing::AssertionFailure() << "SluiceProcess::start: already running (pid " << pid_ << ")";
    exitCode_.reset();

    const std::string ini = replaceAll(iniText, "@DIR@", dir_);
    port_ = 6432;
    listensOnTcp_ = false;
    connectHost_ = "127.0.0.1";
    unixSocketDir_ = "/tmp";
    for (const auto& [key, value] : poolerSettings(ini)) {
        if (key == "listen_port") port_ = std::atoi(value.c_str());
        if (key == "unix_socket_dir") unixSocketDir_ = value;
        if (key == "listen_addr") {
            std::string first = trim(value.substr(0, value.find(',')));
            listensOnTcp_ = !first.empty();
            // A wildcard or a name is reachable on loopback; a specific IPv4 address only there.
            in_addr probe{};
            bool specific = inet_pton(AF_INET, first.c_str(), &probe) == 1 && first != "0.0.0.0";
            connectHost_ = specific ? first : "127.0.0.1";
        }
    }
    try {
        writeTextFile(iniPath(), ini);
        if (!std::filesystem::exists(dir_ + "/userlist.txt")) writeTextFile(dir_ + "/userlist.txt", defaultUserlist());
    } catch (const std::exception& e) {
        return ::testing::AssertionFailure() << e.what();
    }

    std::vector<std::string> args;
    args.push_back(binary_);
    for (auto& arg : extraArgs) args.push_back(std::move(arg));
    args.push_back(iniPath());
    std::vector<char*> argv;
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);

    // The child's environment, built before fork (no allocation after it).
    std::vector<std::string> envStrings;
    for (char** e = environ; *e; ++e) {
        const std::string entry(*e);
        const std::string name = entry.substr(0, entry.find('='));
        bool overridden = false;
        for (const auto& [key, value] : env_) overridden |= key == name;
        if (!overridden) envStrings.push_back(entry);
    }
    for (const auto& [key, value] : env_)
        if (value) envStrings.push_back(key + "=" + *value);
    std::vector<char*> envp;
    for (const auto& entry : envStrings) envp.push_back(const_cast<char*>(entry.c_str()));
    envp.push_back(nullptr);

    const std::string outPath = dir_ + "/sluice.out";
    int out = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || in < 0) {
        if (out >= 0) ::close(out);
        if (in >= 0) ::close(in);
        return ::testing::AssertionFailure() << "cannot open " << outPath << ": " << std::strerror(errno);
    }
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        // Only async-signal-safe calls until exec: the test process may have threads.
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test must not leave a daemon on its port
        if (getppid() != parent) _exit(125);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, nullptr);
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) _exit(126);
        if (close_range(3, ~0U, 0) != 0) {
            for (int fd = 3; fd < 1024; ++fd) ::close(fd);
        }
        execve(argv[0], argv.data(), envp.data());
        const char message[] = "SluiceProcess: execv failed: ";
        const char* reason = strerror(errno);
        ssize_t ignored = write(2, message, sizeof message - 1);
        ignored = write(2, reason, strlen(reason));
        ignored = write(2, "\n", 1);
        (void)ignored;
        _exit(127);
    }
    int forkErrno = errno;
    ::close(out);
    ::close(in);
    if (pid < 0) return ::testing::AssertionFailure() << "fork: " << std::strerror(forkErrno);
    pid_ = pid;
    return waitListening(timeout);
}

::testing::AssertionResult SluiceProcess::waitListening(std::chrono::milliseconds timeout) {
    const std::string socketPath = unixSocketDir_ + "/.s.PGSQL." + std::to_string(port_);
    // Every listener the configuration names: the unix socket is bound just after the TCP ones,
    // and a test that uses it at once must not find it missing (a failure to bind either ends
    // the process, which waitExit sees). Not so for another binary: a wrapper such as
    // systemd-socket-activate runs the pooler at its first connection, on the sockets it passes.
    const bool listensOnUnix = !unixSocketDir_.empty() && (!listensOnTcp_ || binary_ == defaultBinary());
    std::string where = listensOnTcp_ ? connectHost_ + ":" + std::to_string(port_) : "";
    if (listensOnUnix) where += (where.empty() ? "" : " and ") + ("unix socket " + socketPath);
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (auto code = waitExit(0ms)) return failStart(describeExit(*code) + " before listening on " + where);
        if ((!listensOnTcp_ || acceptsTcp(connectHost_, port_)) && (!listensOnUnix || acceptsUnix(socketPath))) {
            return ::testing::AssertionSuccess();
        }
        if (Clock::now() >= deadline) {
            return failStart("did not listen on " + where + " within " + std::to_string(timeout.count()) +
                             " ms (killed)");
        }
        std::this_thread::sleep_for(20ms);
    }
}

std::optional<int> SluiceProcess::waitExit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return exitCode_;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            exitCode_ = decodeStatus(status);
            pid_ = -1;
            return exitCode_;
        }
        if (r < 0 && errno != EINTR) {
            pid_ = -1;  // not our child any more (reaped elsewhere): nothing left to wait for
            return exitCode_;
        }
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(10ms);
    }
}

bool SluiceProcess::isRunning() { return pid_ > 0 && !waitExit(0ms).has_value(); }

bool SluiceProcess::signal(int sig) const { return pid_ > 0 && ::kill(pid_, sig) == 0; }

void SluiceProcess::setEnv(const std::string& name, const std::string& value) {
    std::erase_if(env_, [&](const auto& entry) { return entry.first == name; });
    env_.emplace_back(name, value);
}

void SluiceProcess::unsetEnv(const std::string& name) {
    std::erase_if(env_, [&](const auto& entry) { return entry.first == name; });
    env_.emplace_back(name, std::nullopt);
}

bool SluiceProcess::reload(const std::string& iniText) const {
    writeTextFile(iniPath(), replaceAll(iniText, "@DIR@", dir_));
    return signal(SIGHUP);
}

std::optional<int> SluiceProcess::stop(std::chrono::milliseconds grace, int sig) {
    if (pid_ <= 0) return exitCode_;
    ::kill(pid_, sig);
    if (auto code = waitExit(grace)) return code;
    ::kill(pid_, SIGKILL);
    return waitExit(30s);  // SIGKILL cannot be ignored; the bound only guards a stuck kernel
}

std::string SluiceProcess::conninfo(const std::string& user, const std::string& password,
                                    const std::string& db) const {
    return itest::conninfo({{"host", connectHost_},
                            {"port", std::to_string(port_)},
                            {"user", user},
                            {"password", password},
                            {"dbname", db},
                            {"sslmode", "disable"}});
}

std::string defaultUserlist() {
    return std::string("\"") + PgServer::kAppUser + "\" \"" + PgServer::kAppPassword + "\"\n\"" +
           PgServer::kSuperuser + "\" \"" + PgServer::kSuperPassword + "\"\n";
}

std::string basicIni(const PgServer& pg, int listenPort, const std::string& extraPoolerLines,
                     const std::string& databasesLines) {
    const std::string server = "host=" + pg.host() + " port=" + std::to_string(pg.port());
    std::string ini = "[databases]\n";
    if (databasesLines.empty()) {
        ini += std::string(PgServer::kAppDatabase) + " = " + server + " dbname=" + PgServer::kAppDatabase + "\n";
        ini += "postgres = " + server + " dbname=postgres\n";
    } else {
        ini += databasesLines;
        if (ini.back() != '\n') ini += '\n';
    }

    std::set<std::string> overridden;
    std::istringstream extra(extraPoolerLines);
    for (std::string line; std::getline(extra, line);) {
        if (std::string key = iniKey(line); !key.empty()) overridden.insert(key);
    }
    std::vector<std::pair<std::string, std::string>> defaults = {
        {"listen_addr", "127.0.0.1"},
        {"listen_port", std::to_string(listenPort)},
        {"unix_socket_dir", "@DIR@"},
        {"auth_type", "md5"},
        {"auth_file", "@DIR@/userlist.txt"},
        {"admin_users", PgServer::kSuperuser},
        {"pool_mode", "session"},
        {"default_pool_size", "5"},
        {"max_client_conn", "100"},
    };
    // One worker, whatever the machine (the default, auto, would give one per CPU); with
    // TEST_SLUICE_WORKERS the suite runs again with that many (ctest's integration.workers3).
    const char* workers = std::getenv("TEST_SLUICE_WORKERS");
    defaults.emplace_back("workers", workers != nullptr && *workers != '\0' ? workers : "1");
    ini += "\n[pooler]\n";
    for (const auto& [key, value] : defaults) {
        if (!overridden.count(key)) ini += key + " = " + value + "\n";
    }
    ini += extraPoolerLines;
    if (!extraPoolerLines.empty() && extraPoolerLines.back() != '\n') ini += '\n';
    return ini;
}

}  // namespace sluice::itest
