#include <gmock/gmock.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"

namespace sluice::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace fs = std::filesystem;

// A private directory under /tmp, removed with everything in it.
class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "sluice-config-XXXXXX").string();
        if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string write(const std::string& name, const std::string& text) const {
        const fs::path file = path_ / name;
        fs::create_directories(file.parent_path());
        std::ofstream(file, std::ios::binary) << text;
        return file.string();
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

Result<Config> parse(const std::string& text) { return parseConfigString(text, "test.ini"); }

TEST(ConfigLoader, AppliesSettingsOverDefaults) {
    auto config = parse(
        "; a comment\n"
        "# another comment\n"
        "[pgbouncer]\n"
        "listen_port = 7432\n"
        "  pool_mode=transaction\n"
        "LISTEN_ADDR = 127.0.0.1, ::1\n"
        "server_reset_query =\n"
        "max_packet_size = 100000\n");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->settings.listen_port, 7432);
    EXPECT_EQ(config->settings.pool_mode, "transaction");
    EXPECT_EQ(config->settings.listen_addr, "127.0.0.1, ::1");
    EXPECT_EQ(config->settings.server_reset_query, "");
    EXPECT_EQ(config->settings.max_packet_size, 100000);
    EXPECT_EQ(config->settings.default_pool_size, 20) << "untouched settings keep their default";
    EXPECT_TRUE(config->warnings.empty());
    EXPECT_EQ(config->path, "test.ini");
    EXPECT_EQ(config->settings.conffile, "test.ini");
}

TEST(ConfigLoader, PoolerIsAnAliasOfPgbouncer) {
    auto config = parse("[Pooler]\ndefault_pool_size = 7\n[PGBOUNCER]\nmax_client_conn = 9\n");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->settings.default_pool_size, 7);
    EXPECT_EQ(config->settings.max_client_conn, 9);
}

TEST(ConfigLoader, MainSectionIsRequired) {
    auto config = parse("[databases]\nfoo = host=localhost\n");
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().message, "test.ini: no [pgbouncer] (or [pooler]) section");
}

TEST(ConfigLoader, LaterValueWins) {
    auto config = parse("[pgbouncer]\nlisten_port = 1000\nlisten_port = 2000\n");
    ASSERT_TRUE(config);
    EXPECT_EQ(config->settings.listen_port, 2000);
}

TEST(ConfigLoader, UnknownSettingIsAWarningWithLine) {
    auto config = parse("[pgbouncer]\nlisten_port = 6000\nno_such_thing = 1\n");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->settings.listen_port, 6000);
    ASSERT_EQ(config->warnings.size(), 1u);
    EXPECT_EQ(config->warnings[0], "test.ini:3: unknown setting 'no_such_thing'");
}

TEST(ConfigLoader, UnsupportedSettingIsAWarning) {
    auto config = parse("[pgbouncer]\nauth_ldap_options = ldapurl\n");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->settings.auth_ldap_options, "ldapurl") << "still parsed, for SHOW CONFIG";
    ASSERT_EQ(config->warnings.size(), 1u);
    EXPECT_EQ(config->warnings[0],
              "test.ini:2: setting auth_ldap_options is not supported yet by Sluice; it is ignored");
}

TEST(ConfigLoader, BadValueIsAnErrorWithFileLineAndAllowedValues) {
    auto config = parse("[pgbouncer]\n\nlisten_port = 6432\npool_mode = sometimes\n");
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().message,
              "test.ini:4: invalid value 'sometimes' for setting 'pool_mode': expected one of session, transaction or "
              "statement");
}

TEST(ConfigLoader, EveryBadValueIsReported) {
    auto config = parse("[pgbouncer]\nlisten_port = x\nlog_connections = maybe\nserver_lifetime = 1h\n");
    ASSERT_FALSE(config);
    const std::string& message = config.error().message;
    EXPECT_THAT(message, HasSubstr("test.ini:2: invalid value 'x' for setting 'listen_port'"));
    EXPECT_THAT(message, HasSubstr("test.ini:3: invalid value 'maybe' for setting 'log_connections'"));
    EXPECT_THAT(message, HasSubstr("test.ini:4: invalid value '1h' for setting 'server_lifetime'"));
}

TEST(ConfigLoader, NoInlineCommentsLikePgBouncer) {
    // ';' and '#' after the start of a line are part of the value.
    auto config = parse("[pgbouncer]\nserver_reset_query = DISCARD ALL; SELECT 1 # keep\n");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->settings.server_reset_query, "DISCARD ALL; SELECT 1 # keep");

    auto numeric = parse("[pgbouncer]\nlisten_port = 6432 ; the port\n");
    ASSERT_FALSE(numeric);
    EXPECT_THAT(numeric.error().message, StartsWith("test.ini:2: invalid value '6432 ; the port'"));
}

TEST(ConfigLoader, CrLfAndByteOrderMark) {
    auto config = parse("\xEF\xBB\xBF[pgbouncer]\r\nlisten_port = 6543\r\n");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->settings.listen_port, 6543);
}

TEST(ConfigLoader, SyntaxErrorsStopWithFileAndLine) {
    struct Case {
        const char* text;
        const char* expected;
    } cases[] = {
        {"[pgbouncer]\nlisten_port\n", "test.ini:2: syntax error: expected 'name = value'"},
        {"[pgbouncer]\nlisten_port: 6432\n", "test.ini:2: syntax error: expected 'name = value'"},
        {"[pgbouncer]\nlisten_port: x = 6432\n", "test.ini:2: syntax error: invalid character ':'"},
        {"[pgbouncer\nlisten_port = 1\n", "test.ini:1: syntax error: missing ']'"},
        {"[pgbouncer] junk\n", "test.ini:1: syntax error: unexpected text after section header"},
        {"listen_port = 1\n[pgbouncer]\n", "test.ini:1: syntax error: 'listen_port' appears before any [section]"},
        {"[pgbouncer]\n= 5\n", "test.ini:2: syntax error: missing name before '='"},
        {"[pgbouncer]\n%inclde x.ini\n", "test.ini:2: syntax error: unknown directive '%inclde'"},
        {"[databases]\n\"unterminated = host=x\n", "test.ini:2: syntax error: unterminated quoted name"},
        {"[databases]\n\"a:b\" = host=x\n", "test.ini:2: syntax error: names containing '=' or ':'"},
    };
    for (const auto& c : cases) {
        auto config = parse(c.text);
        ASSERT_FALSE(config) << c.text;
        EXPECT_THAT(config.error().message, StartsWith(c.expected)) << c.text;
    }
}

TEST(ConfigLoader, SectionHeaderMayCarryAComment) {
    auto config = parse("[pgbouncer] ; main settings\nlisten_port = 6001\n");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->settings.listen_port, 6001);
}

TEST(ConfigLoader, UnknownSectionIsAWarning) {
    auto config = parse(
        "[pgbouncer]\n"
        "listen_port = 6001\n"
        "[extras]\n"
        "anything = goes\n");
    ASSERT_TRUE(config) << config.error().message;
    ASSERT_EQ(config->warnings.size(), 1u);
    EXPECT_EQ(config->warnings[0], "test.ini:3: unknown section [extras]; its lines are ignored");
}

// PgBouncer's [peers] lines: id = host=... port=... pool_size=... (port 6432 and pool_size
// unset when not given); the process's own id may be listed too.
TEST(ConfigLoader, PeersAreRead) {
    auto config = parse(
        "[pgbouncer]\n"
        "peer_id = 2\n"
        "[peers]\n"
        "1 = host=/tmp/a port=6433 pool_size=4\n"
        "2 = host=pooler-2.example.com\n"
        "65535 = host=10.0.0.9\n");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_TRUE(config->warnings.empty());
    EXPECT_EQ(config->settings.peer_id, 2);
    ASSERT_EQ(config->peers.size(), 3u);
    const auto& first = config->peers.at(1);
    EXPECT_EQ(first.host, "/tmp/a");
    EXPECT_EQ(first.port, 6433);
    EXPECT_EQ(first.poolSize, 4);
    EXPECT_EQ(config->peers.at(2).host, "pooler-2.example.com");
    EXPECT_EQ(config->peers.at(2).port, 6432);
    EXPECT_FALSE(config->peers.at(2).poolSize.has_value());
}

// As in PgBouncer, a bad [peers] line stops the load, naming the line.
TEST(ConfigLoader, BadPeersAreErrors) {
    const std::pair<std::string, std::string> cases[] = {
        {"two = host=b", "test.ini:2: peer 'two': peer id 'two' is not a number between 1 and 65535"},
        {"0 = host=b", "test.ini:2: peer '0': peer id '0' is not a number between 1 and 65535"},
        {"3 = port=1", "test.ini:2: peer '3': host is missing"},
        {"4 = host=c sslmode=x", "test.ini:2: peer '4': unknown key 'sslmode'; allowed keys: host, port, pool_size"},
        {"5 = host=c port=0", "test.ini:2: peer '5': invalid port '0': expected a number between 1 and 65535"},
        {"6 = host=c pool_size=-1", "test.ini:2: peer '6': invalid pool_size '-1': expected a whole number"},
    };
    for (const auto& [line, expected] : cases) {
        auto config = parse("[peers]\n" + line + "\n[pgbouncer]\n");
        ASSERT_FALSE(config) << line;
        EXPECT_NE(config.error().message.find(expected), std::string::npos) << config.error().message;
    }
}

TEST(ConfigLoader, LongLinesAreReadWhole) {
    const std::string query = "SELECT '" + std::string(20000, 'x') + "'";
    auto config = parse("[pgbouncer]\nserver_check_query = " + query + "\nlisten_port = 6002\n");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->settings.server_check_query, query);
    EXPECT_EQ(config->settings.listen_port, 6002);

    auto tooLong = parse("[pgbouncer]\nserver_check_query = " + std::string(70000, 'y') + "\n");
    ASSERT_FALSE(tooLong);
    EXPECT_THAT(tooLong.error().message, StartsWith("test.ini:2: line is longer than"));
}

TEST(ConfigLoader, NulByteIsRejected) {
    auto config = parse(std::string("[pgbouncer]\nlisten_port = 6\0" "432\n", 31));
    ASSERT_FALSE(config);
    EXPECT_THAT(config.error().message, StartsWith("test.ini:2: line contains a NUL byte"));
}

TEST(ConfigLoader, EmptyInputHasNoMainSection) {
    EXPECT_FALSE(parse(""));
    EXPECT_FALSE(parse("\n\n;only comments\n"));
}

TEST(ConfigLoader, LoadConfigReadsAFile) {
    TempDir dir;
    const std::string path = dir.write("pooler.ini", "[pgbouncer]\nlisten_port = 6100\n");
    auto config = loadConfig(path);
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->settings.listen_port, 6100);
    EXPECT_EQ(config->path, path);
    EXPECT_EQ(config->settings.conffile, path);

    auto missing = loadConfig((dir.path() / "nope.ini").string());
    ASSERT_FALSE(missing);
    EXPECT_THAT(missing.error().message, HasSubstr("nope.ini"));
    EXPECT_THAT(missing.error().message, HasSubstr("No such file"));
}

TEST(ConfigLoader, IncludeReadsRelativeToTheIncludingFile) {
    TempDir dir;
    dir.write("conf.d/databases.ini", "[databases]\nfoo = host=db1 port=5433\n");
    dir.write("conf.d/pool.ini", "[pgbouncer]\n%include databases.ini\n");
    const std::string main = dir.write("main.ini",
                                       "[pgbouncer]\n"
                                       "listen_port = 6200\n"
                                       "%include conf.d/pool.ini\n"
                                       "[pgbouncer]\n"
                                       "no_such = 1\n");
    auto config = loadConfig(main);
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->settings.listen_port, 6200);
    ASSERT_EQ(config->databases.count("foo"), 1u);
    EXPECT_EQ(config->databases.at("foo").port, 5433);
    EXPECT_EQ(config->databases.at("foo").file, (dir.path() / "conf.d/databases.ini").string());
    EXPECT_EQ(config->databases.at("foo").line, 2);
    ASSERT_EQ(config->warnings.size(), 1u);
    EXPECT_EQ(config->warnings[0], main + ":5: unknown setting 'no_such'") << "line numbers resume after an include";
}

TEST(ConfigLoader, ErrorsInsideAnIncludeNameThatFile) {
    TempDir dir;
    dir.write("bad.ini", "[pgbouncer]\n\nmax_client_conn = lots\n");
    const std::string main = dir.write("main.ini", "[pgbouncer]\n%include bad.ini\n");
    auto config = loadConfig(main);
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().message,
              (dir.path() / "bad.ini").string() +
                  ":3: invalid value 'lots' for setting 'max_client_conn': expected a whole number between 0 and "
                  "2147483647");
}

TEST(ConfigLoader, IncludeAbsolutePath) {
    TempDir dir;
    const std::string other = dir.write("other.ini", "default_pool_size = 3\n");
    auto config = parseConfigString("[pgbouncer]\n%include " + other + "\n", "inline.ini");
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->settings.default_pool_size, 3) << "the included text continues the current section";
}

TEST(ConfigLoader, MissingIncludeIsAnErrorAtTheDirective) {
    TempDir dir;
    const std::string main = dir.write("main.ini", "[pgbouncer]\n\n%include missing.ini\n");
    auto config = loadConfig(main);
    ASSERT_FALSE(config);
    EXPECT_THAT(config.error().message, StartsWith(main + ":3: %include: cannot open"));
    EXPECT_THAT(config.error().message, HasSubstr("missing.ini"));

    auto empty = parse("[pgbouncer]\n%include   \n");
    EXPECT_FALSE(empty);
}

TEST(ConfigLoader, IncludeCycleIsAnError) {
    TempDir dir;
    dir.write("a.ini", "[pgbouncer]\n%include b.ini\n");
    dir.write("b.ini", "%include a.ini\n");
    auto config = loadConfig((dir.path() / "a.ini").string());
    ASSERT_FALSE(config);
    EXPECT_THAT(config.error().message, StartsWith((dir.path() / "b.ini").string() + ":1: %include cycle"));

    dir.write("self.ini", "[pgbouncer]\n%include ./self.ini\n");
    auto self = loadConfig((dir.path() / "self.ini").string());
    ASSERT_FALSE(self);
    EXPECT_THAT(self.error().message, HasSubstr("%include cycle"));
}

TEST(ConfigLoader, IncludeDepthIsLimitedToTen) {
    TempDir dir;
    // main -> f1 -> ... -> f10 is ten levels: allowed. One more is too deep.
    for (int i = 1; i <= 11; ++i)
        dir.write(fmt::format("f{}.ini", i), fmt::format("%include f{}.ini\n", i + 1));
    dir.write("f10.ini", "listen_port = 6010\n");
    const std::string main = dir.write("main.ini", "[pgbouncer]\n%include f1.ini\n");
    auto ok = loadConfig(main);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->settings.listen_port, 6010);

    dir.write("f10.ini", "%include f11.ini\n");
    dir.write("f11.ini", "listen_port = 6011\n");
    auto deep = loadConfig(main);
    ASSERT_FALSE(deep);
    EXPECT_THAT(deep.error().message, StartsWith((dir.path() / "f10.ini").string() + ":1: %include nested more"));
}

}  // namespace
}  // namespace sluice::config
