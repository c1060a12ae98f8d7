#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "config/config.h"
#include "config/conn_string.h"

namespace sluice::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

using Params = std::vector<std::pair<std::string, std::string>>;

TEST(ConfigConnString, SplitsPairsAndUnquotes) {
    auto pairs = splitConnString("  host=db1  port = 5433 password='a b''c' Note='x\\'y\\\\z'  ");
    ASSERT_TRUE(pairs) << pairs.error().message;
    EXPECT_EQ(pairs.value(),
              (KeyValuePairs{{"host", "db1"}, {"port", "5433"}, {"password", "a b'c"}, {"note", "x'y\\z"}}));
    ASSERT_TRUE(splitConnString(""));
    EXPECT_TRUE(splitConnString("   ")->empty());
}

TEST(ConfigConnString, KeepsBackslashesThatEscapeNothing) {
    auto pairs = splitConnString("connect_query='SELECT E''\\n'''");
    ASSERT_TRUE(pairs);
    EXPECT_EQ(pairs->at(0).second, "SELECT E'\\n'");
}

TEST(ConfigConnString, RejectsMalformedInput) {
    for (std::string_view bad : {"host", "host =", "=db", "host='unterminated", "host='a'b", "host=''", "port=1 x",
                                 "a=b =c"}) {
        auto pairs = splitConnString(bad);
        ASSERT_FALSE(pairs) << bad;
        EXPECT_THAT(pairs.error().message, StartsWith("syntax error in connection string")) << bad;
    }
}

TEST(ConfigDatabase, ParsesTheCommonKeys) {
    auto entry = parseDatabaseEntry("app", "host=10.0.0.5 port=6543 dbname=appdb user=svc password=secret");
    ASSERT_TRUE(entry) << entry.error().message;
    EXPECT_EQ(entry->name, "app");
    EXPECT_EQ(entry->host, "10.0.0.5");
    EXPECT_EQ(entry->port, 6543);
    EXPECT_EQ(entry->dbname, "appdb");
    EXPECT_EQ(entry->user, "svc");
    EXPECT_EQ(entry->password, "secret");
    EXPECT_FALSE(entry->poolSize);
    EXPECT_FALSE(entry->poolMode);
}

TEST(ConfigDatabase, DefaultsForAnEmptyConnectionString) {
    auto entry = parseDatabaseEntry("foodb", "");
    ASSERT_TRUE(entry) << entry.error().message;
    EXPECT_EQ(entry->host, "") << "empty host = unix socket in unix_socket_dir";
    EXPECT_EQ(entry->port, 5432);
    EXPECT_EQ(entry->dbname, "foodb") << "dbname defaults to the entry's name";
    EXPECT_EQ(entry->loadBalanceHosts, "round-robin");
    EXPECT_EQ(entry->targetSessionAttrs, "any");
    EXPECT_TRUE(entry->startupParameters.empty());
}

TEST(ConfigDatabase, EveryDocumentedKeyIsAccepted) {
    auto entry = parseDatabaseEntry(
        "all",
        "dbname=d host=/var/run/postgresql port=5432 user=u password=p auth_user=au "
        "auth_query='SELECT usename, passwd FROM pg_shadow WHERE usename=$1' auth_dbname=authdb pool_size=10 "
        "min_pool_size=2 reserve_pool_size=3 connect_query='SET search_path = app; SELECT 1' pool_mode=Transaction "
        "max_db_connections=40 max_db_client_connections=400 server_lifetime=1.5 query_wait_timeout=30 "
        "load_balance_hosts=disable target_session_attrs=read-write client_encoding=UTF8 datestyle=ISO "
        "timezone=UTC application_name=myapp");
    ASSERT_TRUE(entry) << entry.error().message;
    EXPECT_EQ(entry->authUser, "au");
    EXPECT_EQ(entry->authQuery, "SELECT usename, passwd FROM pg_shadow WHERE usename=$1");
    EXPECT_EQ(entry->authDbname, "authdb");
    EXPECT_EQ(entry->poolSize, 10);
    EXPECT_EQ(entry->minPoolSize, 2);
    EXPECT_EQ(entry->reservePoolSize, 3);
    EXPECT_EQ(entry->connectQuery, "SET search_path = app; SELECT 1");
    EXPECT_EQ(entry->poolMode, "transaction");
    EXPECT_EQ(entry->maxDbConnections, 40);
    EXPECT_EQ(entry->maxDbClientConnections, 400);
    EXPECT_EQ(entry->serverLifetime, 1.5);
    EXPECT_EQ(entry->queryWaitTimeout, 30.0);
    EXPECT_EQ(entry->loadBalanceHosts, "disable");
    EXPECT_EQ(entry->targetSessionAttrs, "read-write");
    EXPECT_EQ(entry->startupParameters, (Params{{"client_encoding", "UTF8"},
                                                {"DateStyle", "ISO"},
                                                {"TimeZone", "UTC"},
                                                {"application_name", "myapp"}}));
    const auto& keys = databaseEntryKeys();
    for (std::string_view key :
         {"dbname", "host", "port", "user", "password", "auth_user", "auth_query", "auth_dbname", "pool_size",
          "min_pool_size", "reserve_pool_size", "connect_query", "pool_mode", "max_db_connections",
          "max_db_client_connections", "server_lifetime", "query_wait_timeout", "load_balance_hosts",
          "client_encoding", "datestyle", "timezone"})
        EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
}

// As PgBouncer: a database's server_lifetime=0 is "not set", so the global setting applies (the
// global 0, "use each server once", cannot be asked for per database).
TEST(ConfigDatabase, ServerLifetimeZeroMeansTheGlobalSetting) {
    auto entry = parseDatabaseEntry("db", "server_lifetime=0");
    ASSERT_TRUE(entry) << entry.error().message;
    EXPECT_FALSE(entry->serverLifetime.has_value());
}

TEST(ConfigDatabase, OldReservePoolSpellingAndRepeatedKeys) {
    auto entry = parseDatabaseEntry("db", "reserve_pool=4 timezone=UTC timezone=CET pool_size=1 pool_size=2");
    ASSERT_TRUE(entry) << entry.error().message;
    EXPECT_EQ(entry->reservePoolSize, 4);
    EXPECT_EQ(entry->poolSize, 2) << "the last value wins, as in PgBouncer";
    EXPECT_EQ(entry->startupParameters, (Params{{"TimeZone", "CET"}}));
}

TEST(ConfigDatabase, QueryWaitTimeoutMinusOneMeansNotSet) {
    auto entry = parseDatabaseEntry("db", "query_wait_timeout=-1");
    ASSERT_TRUE(entry);
    EXPECT_FALSE(entry->queryWaitTimeout);
    EXPECT_FALSE(parseDatabaseEntry("db", "query_wait_timeout=-2"));
}

TEST(ConfigDatabase, HostListsAndSocketDirectories) {
    EXPECT_EQ(parseDatabaseEntry("a", "host=h1,h2,h3")->host, "h1,h2,h3");
    EXPECT_EQ(parseDatabaseEntry("a", "host=@abstract")->host, "@abstract");
    EXPECT_EQ(parseDatabaseEntry("a", "host=2001:db8::1")->host, "2001:db8::1");
}

TEST(ConfigDatabase, HostAndPortListsPairAsInLibpq) {
    using sluice::config::HostAddress;
    auto one = parseDatabaseEntry("a", "host=h1,h2 port=6000");
    ASSERT_TRUE(one);
    EXPECT_EQ(one->hosts, (std::vector<HostAddress>{{"h1", 6000}, {"h2", 6000}}));
    auto each = parseDatabaseEntry("a", "host='h1, /tmp/sock ,h3' port=1,2,3");
    ASSERT_TRUE(each);
    EXPECT_EQ(each->hosts, (std::vector<HostAddress>{{"h1", 1}, {"/tmp/sock", 2}, {"h3", 3}}));
    EXPECT_EQ(each->port, 1);
    auto plain = parseDatabaseEntry("a", "dbname=x");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->hosts, (std::vector<HostAddress>{{"", 5432}}));
    auto attrs = parseDatabaseEntry("a", "host=a,b target_session_attrs=Prefer-Standby load_balance_hosts=random");
    ASSERT_TRUE(attrs);
    EXPECT_EQ(attrs->targetSessionAttrs, "prefer-standby");
    EXPECT_EQ(attrs->loadBalanceHosts, "random");
}

TEST(ConfigDatabase, UnknownKeyNamesTheAllowedOnes) {
    auto entry = parseDatabaseEntry("db", "host=x sslmode=require");
    ASSERT_FALSE(entry);
    EXPECT_THAT(entry.error().message,
                StartsWith("unknown key 'sslmode' in database entry; allowed keys: dbname, host"));
    EXPECT_THAT(entry.error().message, HasSubstr("pool_mode"));
}

TEST(ConfigDatabase, BadValuesAreRejected) {
    struct Case {
        const char* text;
        const char* expected;
    } cases[] = {
        {"port=0", "invalid value '0' for 'port': expected a port between 1 and 65535"},
        {"port=65536", "invalid value '65536' for 'port'"},
        {"port=54x", "invalid value '54x' for 'port'"},
        {"pool_size=-1", "invalid value '-1' for 'pool_size': expected a whole number"},
        {"pool_size=ten", "invalid value 'ten' for 'pool_size'"},
        {"max_db_connections=99999999999", "invalid value '99999999999' for 'max_db_connections'"},
        {"pool_mode=sometimes", "invalid value 'sometimes' for 'pool_mode': expected one of session, transaction"},
        {"server_lifetime=1h", "invalid value '1h' for 'server_lifetime'"},
        {"load_balance_hosts=sometimes", "invalid value 'sometimes' for 'load_balance_hosts': expected one of round-robin"},
        {"target_session_attrs=writable", "invalid value 'writable' for 'target_session_attrs': expected one of any, "
                                          "read-write, read-only, primary, standby, prefer-standby"},
        {"host=a,b,c port=1,2", "host lists 3 hosts but port lists 2 ports"},
        {"host=a,,c", "empty host name in host list"},
        {"port=5432,x", "invalid value '5432,x' for 'port'"},
        {"host='unterminated", "syntax error in connection string: unterminated quoted value"},
        {"user=", "syntax error in connection string: empty value for 'user'"},
    };
    for (const auto& c : cases) {
        auto entry = parseDatabaseEntry("db", c.text);
        ASSERT_FALSE(entry) << c.text;
        EXPECT_THAT(entry.error().message, StartsWith(c.expected)) << c.text;
    }
}

TEST(ConfigDatabase, ReservedAndEmptyNames) {
    auto reserved = parseDatabaseEntry("pgbouncer", "host=x");
    ASSERT_FALSE(reserved);
    EXPECT_THAT(reserved.error().message, HasSubstr("reserved"));
    EXPECT_FALSE(parseDatabaseEntry("", "host=x"));
}

TEST(ConfigDatabase, FallbackEntryKeepsDbnameOpen) {
    auto fallback = parseDatabaseEntry("*", "host=foo");
    ASSERT_TRUE(fallback);
    EXPECT_EQ(fallback->dbname, "");
    const DatabaseEntry bar = instantiateFallback(fallback.value(), "bar");
    EXPECT_EQ(bar.name, "bar");
    EXPECT_EQ(bar.dbname, "bar");
    EXPECT_EQ(bar.host, "foo");

    auto pinned = parseDatabaseEntry("*", "host=foo dbname=common");
    ASSERT_TRUE(pinned);
    EXPECT_EQ(instantiateFallback(pinned.value(), "bar").dbname, "common");
}

TEST(ConfigDatabase, LoaderFillsDatabasesAndFallback) {
    auto config = parseConfigString(
        "[databases]\n"
        "; foodb over the unix socket\n"
        "foodb =\n"
        "bardb = host=localhost dbname=bazdb\n"
        "MixedCase = host=h\n"
        "\"my db\" = host=quoted\n"
        "\"say \"\"hi\"\"\" = host=q2\n"
        "* = host=fallback port=6000\n"
        "[pgbouncer]\n"
        "listen_port = 6432\n",
        "dbs.ini");
    ASSERT_TRUE(config) << config.error().message;
    ASSERT_EQ(config->databases.size(), 5u);
    EXPECT_EQ(config->databases.at("foodb").dbname, "foodb");
    EXPECT_EQ(config->databases.at("foodb").line, 3);
    EXPECT_EQ(config->databases.at("foodb").file, "dbs.ini");
    EXPECT_EQ(config->databases.at("bardb").dbname, "bazdb");
    EXPECT_EQ(config->databases.count("mixedcase"), 0u) << "database names keep their case";
    EXPECT_EQ(config->databases.at("MixedCase").host, "h");
    EXPECT_EQ(config->databases.at("my db").host, "quoted");
    EXPECT_EQ(config->databases.at("say \"hi\"").host, "q2");
    ASSERT_TRUE(config->fallbackDatabase);
    EXPECT_EQ(config->fallbackDatabase->host, "fallback");
    EXPECT_EQ(config->fallbackDatabase->port, 6000);
    EXPECT_EQ(config->databases.count("*"), 0u);
}

TEST(ConfigDatabase, LoaderReportsBadEntriesWithFileLineAndName) {
    auto config = parseConfigString("[pgbouncer]\n[databases]\nfoo = host=x port=abc\n", "dbs.ini");
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().message,
              "dbs.ini:3: database 'foo': invalid value 'abc' for 'port': expected a port between 1 and 65535, or a "
              "comma-separated list of them");

    auto reserved = parseConfigString("[pgbouncer]\n[databases]\npgbouncer = host=x\n", "dbs.ini");
    ASSERT_FALSE(reserved);
    EXPECT_THAT(reserved.error().message, StartsWith("dbs.ini:3: database 'pgbouncer':"));

    auto badName = parseConfigString("[pgbouncer]\n[databases]\nmy$db = host=x\n", "dbs.ini");
    ASSERT_FALSE(badName);
    EXPECT_THAT(badName.error().message, StartsWith("dbs.ini:3: syntax error: invalid character '$'"));
}

TEST(ConfigUsers, ParsesEveryDocumentedKey) {
    auto user = parseUserEntry("alice",
                               "pool_mode=statement pool_size=5 reserve_pool_size=1 max_user_connections=8 "
                               "max_user_client_connections=80 query_timeout=2.5 query_wait_timeout=-1 "
                               "idle_transaction_timeout=10 transaction_timeout=20 client_idle_timeout=30");
    ASSERT_TRUE(user) << user.error().message;
    EXPECT_EQ(user->name, "alice");
    EXPECT_EQ(user->poolMode, "statement");
    EXPECT_EQ(user->poolSize, 5);
    EXPECT_EQ(user->reservePoolSize, 1);
    EXPECT_EQ(user->maxUserConnections, 8);
    EXPECT_EQ(user->maxUserClientConnections, 80);
    EXPECT_EQ(user->queryTimeout, 2.5);
    EXPECT_FALSE(user->queryWaitTimeout);
    EXPECT_EQ(user->idleTransactionTimeout, 10.0);
    EXPECT_EQ(user->transactionTimeout, 20.0);
    EXPECT_EQ(user->clientIdleTimeout, 30.0);
}

TEST(ConfigUsers, RejectsBadEntries) {
    auto unknown = parseUserEntry("bob", "pool_mode=session password=x");
    ASSERT_FALSE(unknown);
    EXPECT_THAT(unknown.error().message, StartsWith("unknown key 'password' in user entry; allowed keys: pool_mode"));
    EXPECT_FALSE(parseUserEntry("bob", "pool_mode=bogus"));
    EXPECT_FALSE(parseUserEntry("bob", "pool_size=-3"));
    EXPECT_FALSE(parseUserEntry("bob", "query_timeout=soon"));
    EXPECT_FALSE(parseUserEntry("bob", "pool_size"));
    EXPECT_FALSE(parseUserEntry("", "pool_size=1"));
}

TEST(ConfigUsers, LoaderFillsUsers) {
    auto config = parseConfigString(
        "[pgbouncer]\n"
        "[users]\n"
        "alice = pool_mode=transaction\n"
        "Bob = pool_size=3\n"
        "carol = max_user_connections=x\n",
        "users.ini");
    ASSERT_FALSE(config);
    EXPECT_THAT(config.error().message, StartsWith("users.ini:5: user 'carol': invalid value 'x'"));

    auto good = parseConfigString("[pgbouncer]\n[users]\nalice = pool_mode=transaction\nBob = pool_size=3\n", "u.ini");
    ASSERT_TRUE(good) << good.error().message;
    ASSERT_EQ(good->users.size(), 2u);
    EXPECT_EQ(good->users.at("alice").poolMode, "transaction");
    EXPECT_EQ(good->users.at("Bob").poolSize, 3);
}

}  // namespace
}  // namespace sluice::config
