#include "pg_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sluice::itest {

namespace fs = std::filesystem;

namespace {

// Who runs PostgreSQL's programs: ourselves, or (as root) an unprivileged system user.
struct RunIdentity {
    bool switchUser = false;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string name;
};

const RunIdentity& pgIdentity() {
    static const RunIdentity identity = [] {
        RunIdentity id;
        if (geteuid() != 0) return id;
        passwd* pw = getpwnam("postgres");
        if (pw == nullptr) {
            // Without the Debian package's user, make our own; a failure shows up as pw == nullptr.
            int rc = std::system("useradd --system --no-create-home --shell /usr/sbin/nologin sluice-test >/dev/null 2>&1");
            (void)rc;
            pw = getpwnam("sluice-test");
        }
        if (pw == nullptr) {
            throw std::runtime_error("running as root, but neither user 'postgres' nor 'sluice-test' exists "
                                     "and useradd failed; PostgreSQL refuses to run as root");
        }
        id.switchUser = true;
        id.uid = pw->pw_uid;
        id.gid = pw->pw_gid;
        id.name = pw->pw_name;
        return id;
    }();
    return identity;
}

// In a forked child only async-signal-safe calls are allowed (the parent may have threads),
// so everything here is plain syscalls and all strings were prepared before fork().
[[noreturn]] void childFail(const char* what) {
    const char prefix[] = "pg_server: child setup failed: ";
    ssize_t ignored = write(2, prefix, sizeof prefix - 1);
    ignored = write(2, what, strlen(what));
    ignored = write(2, "\n", 1);
    (void)ignored;
    _exit(126);
}

void childBecome(const RunIdentity& id) {
    if (!id.switchUser) return;
    if (setgroups(1, &id.gid) != 0) childFail("setgroups");
    if (setgid(id.gid) != 0) childFail("setgid");
    if (setuid(id.uid) != 0) childFail("setuid");
}

void childRedirect(int in, int out) {
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) childFail("dup2");
    // Descriptors the test process leaked without O_CLOEXEC must not end up in the postmaster.
    if (close_range(3, ~0U, 0) != 0) {
        for (int fd = 3; fd < 1024; ++fd) close(fd);
    }
}

std::vector<char*> argvOf(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    return argv;
}

int waitStatus(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

std::string findBindir() {
    if (const char* env = std::getenv("PG_BINDIR"); env != nullptr && *env != '\0') return env;
    // Debian keeps the server programs off PATH, one directory per major version: newest wins.
    std::vector<std::pair<int, std::string>> found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        fs::path bin = entry.path() / "bin";
        if (!fs::exists(bin / "initdb")) continue;
        int major = std::atoi(entry.path().filename().c_str());
        found.emplace_back(major, bin.string());
    }
    if (!found.empty()) return std::max_element(found.begin(), found.end())->second;
    if (FILE* pipe = popen("pg_config --bindir 2>/dev/null", "r")) {
        char buffer[512] = {};
        std::string dir = fgets(buffer, sizeof buffer, pipe) ? buffer : "";
        pclose(pipe);
        while (!dir.empty() && (dir.back() == '\n' || dir.back() == ' ')) dir.pop_back();
        if (!dir.empty() && fs::exists(fs::path(dir) / "initdb")) return dir;
    }
    throw std::runtime_error("PostgreSQL server programs (initdb, pg_ctl) not found: install the postgresql "
                             "package (make deps) or set PG_BINDIR");
}


}  // namespace

// Runs a PostgreSQL program as pgIdentity() with stdout+stderr appended to outputPath;
// returns its exit status.
int runPgProgram(const std::vector<std::string>& args, const std::string& cwd, const std::string& outputPath) {
    const RunIdentity& id = pgIdentity();
    std::vector<char*> argv = argvOf(args);
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        childBecome(id);
        if (chdir(cwd.c_str()) != 0) childFail("chdir");
        int out = open(outputPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        int in = open("/dev/null", O_RDONLY);
        if (out < 0 || in < 0) childFail("open output");
        childRedirect(in, out);
        execv(argv[0], argv.data());
        childFail("execv");
    }
    return waitStatus(pid);
}

std::string lastLines(const std::string& text, std::size_t maxLines) {
    std::size_t lines = 0;
    std::size_t pos = text.size();
    while (pos > 0) {
        if (text[pos - 1] == '\n' && ++lines > maxLines) break;
        --pos;
    }
    return text.substr(pos);
}

std::size_t countOf(const std::string& text, const std::string& needle) {
    std::size_t count = 0;
    for (std::size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++count;
    return count;
}

std::string sqlLiteral(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') out += '\'';
        out += c;
    }
    return out + "'";
}

namespace {

// A port the kernel gives to a bind to port 0, released at once.
int unusedPort() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        int err = errno;
        ::close(fd);
        throw std::runtime_error(std::string("cannot find a free port: ") + std::strerror(err));
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace

int freePort() {
    // The port is bound later, often by a pooler started with it, and a test may ask for two
    // (listen_port and http_listen_port) before either is bound: the kernel can give the port it
    // just released to the next bind to port 0, so one the process had already has to be skipped.
    static std::mutex mutex;
    static std::set<int> handedOut;
    std::lock_guard lock(mutex);
    for (int attempt = 0; attempt < 1000; ++attempt)
        if (const int port = unusedPort(); handedOut.insert(port).second) return port;
    throw std::runtime_error("cannot find a free port this process has not handed out already");
}

std::string makeTempDir(const std::string& prefix, const std::string& parent) {
    std::string pattern = parent + "/" + prefix + ".XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
    }
    return pattern;
}

std::string readTextFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return "";
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void writeTextFile(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path);
}

PgServer::~PgServer() {
    try {
        stop();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "PgServer: stop failed: %s\n", e.what());
    }
    stopWatchdog();
    if (!baseDir_.empty() && std::getenv("SLUICE_TEST_KEEP") == nullptr) {
        std::error_code ec;
        fs::remove_all(baseDir_, ec);
    }
}

void PgServer::start(const PgServerOptions& options) {
    if (!baseDir_.empty()) throw std::logic_error("PgServer::start called twice");
    options_ = options;
    bindir_ = findBindir();
    makeBaseDir();

    const std::string initdbLog = baseDir_ + "/initdb.log";
    int rc = runPgProgram({bindir_ + "/initdb", "-D", dataDir_, "-U", kSuperuser, "-A", "trust", "-E", "UTF8",
                           "--locale=C.UTF-8", "--no-sync", "--no-instructions"},
                          baseDir_, initdbLog);
    if (rc != 0) {
        std::string log = readTextFile(initdbLog);
        std::fprintf(stderr, "PgServer: initdb failed (exit %d):\n%s\n", rc, log.c_str());
        throw std::runtime_error("initdb failed (exit " + std::to_string(rc) + "):\n" + lastLines(log, 30));
    }

    std::ofstream hba(dataDir_ + "/pg_hba.conf", std::ios::trunc);
    hba << "# written by the Sluice test fixture\n";
    for (const auto& line : options_.leadingHba) hba << line << "\n";
    hba << "local all all trust\n"
        << "host all all 127.0.0.1/32 " << options_.tcpAuth << "\n"
        << "host all all ::1/128 " << options_.tcpAuth << "\n";
    for (const auto& line : options_.extraHba) hba << line << "\n";
    hba.close();
    installTlsFiles();
    std::ofstream conf(dataDir_ + "/postgresql.conf", std::ios::app);
    conf << "\ninclude 'sluice_test.conf'\n";
    conf.close();
    if (!hba || !conf) throw std::runtime_error("cannot write the configuration in " + dataDir_);

    launchOnFreePort();
    createRoles();
}

void PgServer::makeBaseDir() {
    const RunIdentity& id = pgIdentity();
    baseDir_ = makeTempDir("sluice-pg", options_.tempParent);
    dataDir_ = baseDir_ + "/data";
    logPath_ = baseDir_ + "/postgres.log";
    if (id.switchUser && chown(baseDir_.c_str(), id.uid, id.gid) != 0) {
        throw std::runtime_error("chown " + baseDir_ + ": " + std::strerror(errno));
    }
    // The server checks its socket directory and data directory permissions.
    chmod(baseDir_.c_str(), 0700);
}

void PgServer::startStandby(const PgServer& primary, const PgServerOptions& options) {
    if (!baseDir_.empty()) throw std::logic_error("PgServer::startStandby called on a started server");
    if (!primary.isRunning()) throw std::logic_error("PgServer::startStandby: the primary is not running");
    options_ = options;
    bindir_ = primary.bindir();
    makeBaseDir();

    // The copy brings the primary's pg_hba.conf, postgresql.conf (which includes
    // sluice_test.conf, rewritten below with this server's port and socket) and
    // postgresql.auto.conf, to which -R appends primary_conninfo; -R also writes standby.signal.
    const std::string backupLog = baseDir_ + "/pg_basebackup.log";
    int rc = runPgProgram({bindir_ + "/pg_basebackup", "-D", dataDir_, "-R", "-X", "stream", "-c", "fast",
                           "--no-sync", "-h", primary.socketDir(), "-p", std::to_string(primary.port()), "-U",
                           kSuperuser},
                          baseDir_, backupLog);
    if (rc != 0) {
        std::string log = readTextFile(backupLog);
        std::fprintf(stderr, "PgServer: pg_basebackup failed (exit %d):\n%s\n", rc, log.c_str());
        throw std::runtime_error("pg_basebackup failed (exit " + std::to_string(rc) + "):\n" + lastLines(log, 30));
    }
    installTlsFiles();
    launchOnFreePort();
}

void PgServer::installTlsFiles() {
    if (options_.tlsCertFile.empty()) return;
    const RunIdentity& id = pgIdentity();
    for (const auto& [from, to] : {std::pair{options_.tlsCertFile, std::string("server.crt")},
                                   std::pair{options_.tlsKeyFile, std::string("server.key")}}) {
        const std::string target = dataDir_ + "/" + to;
        writeTextFile(target, readTextFile(from));
        chmod(target.c_str(), 0600);
        if (id.switchUser && chown(target.c_str(), id.uid, id.gid) != 0)
            throw std::runtime_error("chown " + target + ": " + std::strerror(errno));
    }
    options_.extraConf.push_back("ssl = on");
}

void PgServer::launchOnFreePort() {
    // A port chosen by freePort() can be taken by someone else before the server binds it.
    std::string failure;
    for (int attempt = 0; attempt < 3 && !running_; ++attempt) {
        port_ = freePort();
        writeConf();
        if (launch(failure)) break;
        if (failure.find("could not bind") == std::string::npos &&
            failure.find("Address already in use") == std::string::npos) {
            break;
        }
    }
    if (!running_) {
        std::fprintf(stderr, "PgServer: PostgreSQL did not start:\n%s\n", failure.c_str());
        throw std::runtime_error("PostgreSQL did not start:\n" + failure);
    }
    startWatchdog();
}

void PgServer::writeConf() const {
    std::ostringstream conf;
    conf << "# written by the Sluice test fixture; later lines win\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "port = " << port_ << "\n"
         << "unix_socket_directories = '" << baseDir_ << "'\n"
         << "max_connections = " << options_.maxConnections << "\n"
         << "password_encryption = '" << (options_.tcpAuth == "md5" ? "md5" : "scram-sha-256") << "'\n"
         << "shared_buffers = 32MB\n"
         // The data is thrown away: durability would only measure the disk.
         << "fsync = off\n"
         << "synchronous_commit = off\n"
         << "full_page_writes = off\n"
         << "log_line_prefix = '%m [%p] %q%u@%d '\n";
    for (const auto& line : options_.extraConf) conf << line << "\n";
    writeTextFile(dataDir_ + "/sluice_test.conf", conf.str());
}

bool PgServer::launch(std::string& failure) {
    const std::string ctlLog = baseDir_ + "/pg_ctl.log";
    int rc = runPgProgram({bindir_ + "/pg_ctl", "-D", dataDir_, "-l", logPath_, "-w", "-t", "60", "start"},
                          baseDir_, ctlLog);
    if (rc == 0) {
        running_ = true;
        return true;
    }
    failure = "pg_ctl start exited with " + std::to_string(rc) + "\n--- pg_ctl output:\n" +
              lastLines(readTextFile(ctlLog), 20) + "\n--- server log (" + logPath_ + "):\n" + lastLines(logContents(), 40);
    return false;
}

void PgServer::stop() { stopWithMode("fast"); }

void PgServer::stopImmediate() { stopWithMode("immediate"); }

void PgServer::stopWithMode(const char* mode) {
    if (!running_) return;
    running_ = false;
    int rc = runPgProgram({bindir_ + "/pg_ctl", "-D", dataDir_, "-m", mode, "-w", "-t", "30", "stop"}, baseDir_,
                          baseDir_ + "/pg_ctl.log");
    if (rc == 0) return;
    // Never leave a server behind: SIGQUIT is PostgreSQL's immediate shutdown.
    std::ifstream pidFile(dataDir_ + "/postmaster.pid");
    pid_t pid = 0;
    if (pidFile >> pid && pid > 0) {
        kill(pid, SIGQUIT);
        for (int i = 0; i < 100 && kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("pg_ctl stop failed (exit " + std::to_string(rc) + "); sent SIGQUIT to postmaster " +
                             std::to_string(pid));
}

void PgServer::restart() {
    stop();
    std::string failure;
    if (!launch(failure)) throw std::runtime_error("PostgreSQL did not restart:\n" + failure);
}

void PgServer::createRoles() {
    PqConn conn(socketConninfo("postgres"));
    if (!conn.isOk()) throw std::runtime_error("cannot connect over the unix socket: " + conn.error());
    const std::string statements[] = {
        std::string("ALTER ROLE ") + kSuperuser + " PASSWORD " + sqlLiteral(kSuperPassword),
        std::string("CREATE ROLE ") + kAppUser + " LOGIN PASSWORD " + sqlLiteral(kAppPassword),
        std::string("CREATE DATABASE ") + kAppDatabase + " OWNER " + kAppUser,
    };
    for (const auto& sql : statements) {
        QueryResult result = conn.exec(sql);
        if (!result.ok) throw std::runtime_error("setup failed: " + sql + ": " + result.describe());
    }
}

void PgServer::startWatchdog() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    // `read` returns when the write end closes, which happens when this process exits for
    // any reason, including SIGKILL; the server is then stopped and its directory removed.
    const std::vector<std::string> args = {
        "/bin/sh",
        "-c",
        "trap '' INT TERM HUP QUIT; read _ignored; "
        // A test may have frozen the server (SIGSTOP to the postmaster and its children, see
        // PgCluster): stopped processes would never act on pg_ctl's signal.
        "pm=$(head -n 1 \"$2/postmaster.pid\" 2>/dev/null); "
        "case \"$pm\" in ''|*[!0-9]*) ;; *) pkill -CONT -P \"$pm\" 2>/dev/null; kill -CONT \"$pm\" 2>/dev/null;; esac; "
        "\"$1/pg_ctl\" -D \"$2\" -m immediate -w -t 20 stop >/dev/null 2>&1; rm -rf \"$3\"",
        "pg-watchdog",
        bindir_,
        dataDir_,
        std::getenv("SLUICE_TEST_KEEP") == nullptr ? baseDir_ : "/nonexistent-kept-by-SLUICE_TEST_KEEP",
    };
    std::vector<char*> argv = argvOf(args);
    const RunIdentity& id = pgIdentity();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        setsid();  // out of the terminal's process group: a Ctrl-C must not skip the cleanup
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull < 0) childFail("open /dev/null");
        if (dup2(fds[0], 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0) childFail("dup2");
        if (close_range(3, ~0U, 0) != 0) {
            for (int fd = 3; fd < 1024; ++fd) close(fd);
        }
        childBecome(id);
        if (chdir("/") != 0) childFail("chdir");
        execv(argv[0], argv.data());
        childFail("execv /bin/sh");
    }
    close(fds[0]);
    watchdogFd_ = fds[1];
    watchdogPid_ = pid;
}

void PgServer::stopWatchdog() {
    if (watchdogFd_ >= 0) close(watchdogFd_);
    watchdogFd_ = -1;
    if (watchdogPid_ > 0) waitStatus(watchdogPid_);
    watchdogPid_ = -1;
}

std::string PgServer::tcpConninfo(const std::string& user, const std::string& password, const std::string& db) const {
    return conninfo({{"host", host()},
                     {"port", std::to_string(port_)},
                     {"user", user},
                     {"password", password},
                     {"dbname", db},
                     {"sslmode", "disable"}});
}

std::string PgServer::socketConninfo(const std::string& db, const std::string& user) const {
    return conninfo({{"host", baseDir_}, {"port", std::to_string(port_)}, {"user", user}, {"dbname", db}});
}

std::string PgServer::query1(const std::string& sql, const std::string& db) const {
    PqConn conn(socketConninfo(db));
    if (!conn.isOk()) throw std::runtime_error("PgServer::query1: cannot connect: " + conn.error());
    QueryResult result = conn.exec(sql);
    if (!result.ok) throw std::runtime_error("PgServer::query1: " + sql + ": " + result.describe());
    return result.value(0, 0);
}

void PgServer::exec(const std::string& sql, const std::string& db) const {
    PqConn conn(socketConninfo(db));
    if (!conn.isOk()) throw std::runtime_error("PgServer::exec: cannot connect: " + conn.error());
    QueryResult result = conn.exec(sql);
    if (!result.ok) throw std::runtime_error("PgServer::exec: " + sql + ": " + result.describe());
}

int PgServer::backendCount(const std::string& db, const std::string& user) const {
    std::string sql =
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
        "AND pid <> pg_backend_pid() AND datname = " +
        sqlLiteral(db);
    if (!user.empty()) sql += " AND usename = " + sqlLiteral(user);
    return std::stoi(query1(sql));
}

std::string PgServer::logContents() const { return logPath_.empty() ? "" : readTextFile(logPath_); }

pid_t PgServer::postmasterPid() const {
    if (dataDir_.empty()) return -1;
    std::ifstream pidFile(dataDir_ + "/postmaster.pid");
    long pid = 0;
    if (!(pidFile >> pid) || pid <= 0) return -1;
    return static_cast<pid_t>(pid);
}

PgServer& sharedPg() {
    static PgServer server;
    static std::string failure;
    static bool attempted = false;
    if (!attempted) {
        attempted = true;
        try {
            server.start();
        } catch (const std::exception& e) {
            failure = e.what();
        }
    }
    if (!failure.empty()) throw std::runtime_error("the shared PostgreSQL did not start: " + failure);
    return server;
}

}  // namespace sluice::itest
