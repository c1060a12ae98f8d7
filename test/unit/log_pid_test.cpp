// Each log line names the process that wrote it: the pid is cached (getpid() per line was a
// system call per sink), so a fork()ed child (daemonizing) must still write its own.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "util/log.h"

namespace sluice::log {
namespace {

std::string readFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(LogPid, ParentAndForkedChildEachWriteTheirOwnPid) {
    char dir[] = "/tmp/sluice-log-pid-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string logfile = std::string(dir) + "/log";
    Options options;
    options.quiet = true;
    options.logfile = logfile;
    configure(options);
    SLOG_INFO("written by the parent");
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        SLOG_INFO("written by the child");
        std::_Exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    configure(Options{});  // closes the file
    const std::string text = readFile(logfile);
    EXPECT_NE(text.find(fmt::format(" UTC [{}] LOG written by the parent", ::getpid())), std::string::npos) << text;
    EXPECT_NE(text.find(fmt::format(" UTC [{}] LOG written by the child", child)), std::string::npos) << text;
    std::remove(logfile.c_str());
    ::rmdir(dir);
}

}  // namespace
}  // namespace sluice::log
