// The admin console's parser (admin/command.h): PgBouncer's `WORD [WORD];` and
// `SET key = value` grammar, case rules, quoting, and the error that points to SHOW HELP.
#include <gtest/gtest.h>

#include <string>

#include "admin/command.h"
#include "proto/codes.h"

namespace sluice::admin {
namespace {

Command parsed(const std::string& query) {
    auto result = parseCommand(query);
    EXPECT_TRUE(result.ok()) << "'" << query << "': " << (result.ok() ? "" : result.error().message);
    return result.ok() ? result.value() : Command{};
}

void expectSyntaxError(const std::string& query) {
    SCOPED_TRACE(query);
    auto result = parseCommand(query);
    ASSERT_FALSE(result.ok()) << "parsed as verb '" << result.value().verb << "' argument '"
                              << result.value().argument << "'";
    EXPECT_EQ(result.error().sqlstate, "42601");
    EXPECT_NE(result.error().message.find("SHOW HELP"), std::string::npos) << result.error().message;
}

TEST(AdminCommand, VerbWithoutArgument) {
    for (const char* query : {"PAUSE", "pause", "PaUsE", "PAUSE;", "  PAUSE  ;  ", "\tPAUSE\n"}) {
        SCOPED_TRACE(query);
        Command command = parsed(query);
        EXPECT_EQ(command.kind, Command::Kind::Verb);
        EXPECT_EQ(command.verb, "pause");
        EXPECT_EQ(command.argument, "");
    }
}

TEST(AdminCommand, VerbIsLowerCasedButTheArgumentKeepsItsSpelling) {
    Command command = parsed("SHOW POOLS");
    EXPECT_EQ(command.kind, Command::Kind::Verb);
    EXPECT_EQ(command.verb, "show");
    EXPECT_EQ(command.argument, "POOLS");

    command = parsed("show stats_totals;");
    EXPECT_EQ(command.verb, "show");
    EXPECT_EQ(command.argument, "stats_totals");

    command = parsed("Pause MyDb");
    EXPECT_EQ(command.verb, "pause");
    EXPECT_EQ(command.argument, "MyDb");

    command = parsed("KILL_CLIENT 1234;");
    EXPECT_EQ(command.verb, "kill_client");
    EXPECT_EQ(command.argument, "1234");

    command = parsed("shutdown WAIT_FOR_CLIENTS");
    EXPECT_EQ(command.verb, "shutdown");
    EXPECT_EQ(command.argument, "WAIT_FOR_CLIENTS");

    // Database names may carry dots and dashes unquoted.
    command = parsed("RESUME my-db.v2");
    EXPECT_EQ(command.argument, "my-db.v2");
}

TEST(AdminCommand, DoubleQuotedArgumentKeepsCaseSpacesAndQuotes) {
    Command command = parsed("PAUSE \"Db\"");
    EXPECT_EQ(command.verb, "pause");
    EXPECT_EQ(command.argument, "Db");

    command = parsed("DISABLE \"My Database\";");
    EXPECT_EQ(command.verb, "disable");
    EXPECT_EQ(command.argument, "My Database");

    command = parsed("ENABLE \"a\"\"b\"");
    EXPECT_EQ(command.argument, "a\"b");
}

TEST(AdminCommand, SetWithEqualsAndAWord) {
    Command command = parsed("SET default_pool_size = 3");
    EXPECT_EQ(command.kind, Command::Kind::Set);
    EXPECT_EQ(command.setKey, "default_pool_size");
    EXPECT_EQ(command.setValue, "3");
    EXPECT_EQ(command.verb, "");

    command = parsed("set Default_Pool_Size=40;");
    EXPECT_EQ(command.kind, Command::Kind::Set);
    EXPECT_EQ(command.setKey, "default_pool_size") << "keys are case-insensitive";
    EXPECT_EQ(command.setValue, "40");

    command = parsed("SET server_lifetime = -1");
    EXPECT_EQ(command.setValue, "-1");

    command = parsed("SET pool_mode = Transaction");
    EXPECT_EQ(command.setValue, "Transaction") << "a value keeps its spelling";
}

TEST(AdminCommand, SetWithTo) {
    Command command = parsed("SET log_connections TO 0");
    EXPECT_EQ(command.kind, Command::Kind::Set);
    EXPECT_EQ(command.setKey, "log_connections");
    EXPECT_EQ(command.setValue, "0");

    command = parsed("set stats_period to '5';");
    EXPECT_EQ(command.setKey, "stats_period");
    EXPECT_EQ(command.setValue, "5");
}

TEST(AdminCommand, SetWithAQuotedString) {
    Command command = parsed("SET client_encoding = 'UTF8'");
    EXPECT_EQ(command.kind, Command::Kind::Set);
    EXPECT_EQ(command.setKey, "client_encoding");
    EXPECT_EQ(command.setValue, "UTF8");

    command = parsed("SET server_reset_query = 'it''s a ''quoted'' str'");
    EXPECT_EQ(command.setValue, "it's a 'quoted' str");

    command = parsed("SET server_reset_query = 'DISCARD ALL; SELECT 1'");
    EXPECT_EQ(command.setValue, "DISCARD ALL; SELECT 1") << "';' inside quotes is text";

    command = parsed("SET ignore_startup_parameters = ''");
    EXPECT_EQ(command.setValue, "");
}

TEST(AdminCommand, SetKeyInDoubleQuotesKeepsItsCase) {
    Command command = parsed("SET \"Odd_Key\" = 1");
    EXPECT_EQ(command.setKey, "Odd_Key");
    EXPECT_EQ(command.setValue, "1");
}

TEST(AdminCommand, EmptyQueries) {
    for (const char* query : {"", " ", ";", "  ;  ", "\n"}) {
        SCOPED_TRACE(std::string("'") + query + "'");
        Command command = parsed(query);
        EXPECT_EQ(command.kind, Command::Kind::Empty);
    }
}

TEST(AdminCommand, GarbageIsASyntaxErrorThatPointsToShowHelp) {
    expectSyntaxError("!!");
    expectSyntaxError("SHOW POOLS; SHOW STATS");
    expectSyntaxError("SHOW POOLS EXTRA");
    expectSyntaxError("PAUSE a b");
    expectSyntaxError("\"SHOW\" POOLS");   // the verb may not be quoted
    expectSyntaxError("PAUSE \"unterminated");
    expectSyntaxError("SHOW (POOLS)");
    expectSyntaxError(";;");
    expectSyntaxError("SHOW POOLS;;");
}

TEST(AdminCommand, BadSetIsASyntaxError) {
    expectSyntaxError("SET");
    expectSyntaxError("SET default_pool_size");
    expectSyntaxError("SET default_pool_size 3");
    expectSyntaxError("SET default_pool_size =");
    expectSyntaxError("SET default_pool_size = 3 4");
    expectSyntaxError("SET default_pool_size = 'unterminated");
    expectSyntaxError("SET default_pool_size IS 3");
    expectSyntaxError("SET = 3");
}

TEST(AdminCommand, TheErrorQuotesTheQuery) {
    auto result = parseCommand("FROB the pooler");
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.error().message.find("FROB the pooler"), std::string::npos) << result.error().message;
}

}  // namespace
}  // namespace sluice::admin
