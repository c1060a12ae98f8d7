#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "auth/auth_file.h"

namespace sluice::auth {
namespace {

AuthFile parseOk(std::string_view content) {
    Result<AuthFile> result = parseAuthFile(content, "userlist.txt");
    EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
    return result.ok() ? result.value() : AuthFile{};
}

std::string parseError(std::string_view content) {
    Result<AuthFile> result = parseAuthFile(content, "userlist.txt");
    EXPECT_FALSE(result.ok());
    return result.ok() ? "" : result.error().message;
}

TEST(AuthFileParse, TypicalFile) {
    const AuthFile users = parseOk(
        "\"admin\" \"md545f2603610af569b6155c45067268c6b\"\n"
        "\"app\" \"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$a:b\"\n"
        "\"plain\" \"hunter2\"\n");
    ASSERT_EQ(users.size(), 3u);
    EXPECT_EQ(users.at("admin"), "md545f2603610af569b6155c45067268c6b");
    EXPECT_EQ(users.at("app"), "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$a:b");
    EXPECT_EQ(users.at("plain"), "hunter2");
}

TEST(AuthFileParse, DoubledQuotesEscapeAQuote) {
    const AuthFile users = parseOk("\"we\"\"ird\" \"pa\"\"ss\"\"\"\n\"q\" \"\"\"\"\n");
    EXPECT_EQ(users.at("we\"ird"), "pa\"ss\"");
    EXPECT_EQ(users.at("q"), "\"");
}

TEST(AuthFileParse, SpacesAndSpecialCharactersInsideQuotes) {
    const AuthFile users = parseOk("\"john smith\" \"a b;c#d,e'f\\g\"\n");
    EXPECT_EQ(users.at("john smith"), "a b;c#d,e'f\\g");
}

TEST(AuthFileParse, CommentsBlankLinesAndTrailingColumns) {
    const AuthFile users = parseOk(
        "; PgBouncer-style comment\n"
        "# shell-style comment\n"
        "\n"
        "   \t\n"
        "  ; indented comment\n"
        "\t\"a\"\t\"pa\"\n"
        "\"b\" \"pb\" \"\" extra columns from a pg_shadow dump\n"
        "\"c\"   \"pc\"");  // no newline at the end
    ASSERT_EQ(users.size(), 3u);
    EXPECT_EQ(users.at("a"), "pa");
    EXPECT_EQ(users.at("b"), "pb");
    EXPECT_EQ(users.at("c"), "pc");
}

TEST(AuthFileParse, WindowsLineEndingsAndBom) {
    const AuthFile users = parseOk("\xEF\xBB\xBF\"a\" \"pa\"\r\n; c\r\n\r\n\"b\" \"pb\"\r\n");
    EXPECT_EQ(users.at("a"), "pa");
    EXPECT_EQ(users.at("b"), "pb");
}

TEST(AuthFileParse, EmptyFileAndEmptyPassword) {
    EXPECT_TRUE(parseOk("").empty());
    EXPECT_TRUE(parseOk("\n\n; nothing\n").empty());
    EXPECT_EQ(parseOk("\"nopw\" \"\"\n").at("nopw"), "");
}

TEST(AuthFileParse, LastEntryForAUserWins) {
    const AuthFile users = parseOk("\"a\" \"old\"\n\"a\" \"new\"\n");
    ASSERT_EQ(users.size(), 1u);
    EXPECT_EQ(users.at("a"), "new");
}

TEST(AuthFileParse, MalformedLinesNameFileAndLine) {
    EXPECT_EQ(parseError("\"a\" \"pa\"\nbob \"pw\"\n"),
              "userlist.txt:2: expected a double-quoted user name, as in \"user\" \"password\"");
    EXPECT_EQ(parseError("\n\"a\" \"b\"\n; c\n\"unterminated\n"), "userlist.txt:4: user name has no closing double quote");
    EXPECT_EQ(parseError("\"bob\n"), "userlist.txt:1: user name has no closing double quote");
    EXPECT_EQ(parseError("\"bob\"\n"), "userlist.txt:1: missing double-quoted password after user \"bob\"");
    EXPECT_EQ(parseError("\"bob\"   \n"), "userlist.txt:1: missing double-quoted password after user \"bob\"");
    EXPECT_EQ(parseError("\"bob\" pw\n"),
              "userlist.txt:1: expected a blank and a double-quoted password after user \"bob\"");
    EXPECT_EQ(parseError("\"bob\" \"pw\n"), "userlist.txt:1: password of user \"bob\" has no closing double quote");
    EXPECT_EQ(parseError("\"\" \"pw\"\n"), "userlist.txt:1: empty user name");
    EXPECT_EQ(parseError("'bob' 'pw'\n"),
              "userlist.txt:1: expected a double-quoted user name, as in \"user\" \"password\"");
    EXPECT_EQ(parseError("bob:pw\n"),
              "userlist.txt:1: expected a double-quoted user name, as in \"user\" \"password\"");
    // A field may not continue onto the next line (PgBouncer would silently join them).
    EXPECT_EQ(parseError("\"bob\" \"p\nw\"\n"), "userlist.txt:1: password of user \"bob\" has no closing double quote");
    EXPECT_EQ(parseError(std::string_view("\"a\" \"p\0w\"\n", 10)), "userlist.txt:1: NUL byte in line");
}

TEST(AuthFileParse, QuoteRightAfterUserIsAnEscapeNotASeparator) {
    // "bob""pw" is the single field bob"pw, then nothing: PgBouncer reads it the same way.
    EXPECT_EQ(parseError("\"bob\"\"pw\"\n"), "userlist.txt:1: missing double-quoted password after user \"bob\"pw\"");
}

TEST(AuthFileParse, Limits) {
    const std::string longestUser(kMaxAuthFileUserLength, 'u');
    const std::string longestSecret(kMaxAuthFileSecretLength, 's');
    EXPECT_EQ(parseOk("\"" + longestUser + "\" \"" + longestSecret + "\"").at(longestUser), longestSecret);
    EXPECT_EQ(parseError("\"" + longestUser + "u\" \"pw\""), "userlist.txt:1: user name longer than 127 bytes");
    EXPECT_EQ(parseError("\"u\" \"" + longestSecret + "s\""), "userlist.txt:1: password of user \"u\" longer than 2047 bytes");
}

TEST(AuthFileParse, ManyUsers) {
    std::string content;
    for (int i = 0; i < 5000; ++i) content += "\"user" + std::to_string(i) + "\" \"pw" + std::to_string(i) + "\"\n";
    const AuthFile users = parseOk(content);
    ASSERT_EQ(users.size(), 5000u);
    EXPECT_EQ(users.at("user4999"), "pw4999");
}

TEST(AuthFileLoad, ReadsFileFromDisk) {
    char path[] = "/tmp/sluice_auth_file_test_XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    {
        std::ofstream out(path);
        out << "\"alice\" \"md54a0a68b43b6cd5cf266fa02f196e2371\"\n\"broken\n";
    }
    Result<AuthFile> broken = loadAuthFile(path);
    ASSERT_FALSE(broken.ok());
    EXPECT_EQ(broken.error().message, std::string(path) + ":2: user name has no closing double quote");
    {
        std::ofstream out(path, std::ios::trunc);
        out << "\"alice\" \"md54a0a68b43b6cd5cf266fa02f196e2371\"\n";
    }
    Result<AuthFile> loaded = loadAuthFile(path);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    EXPECT_EQ(loaded->at("alice"), "md54a0a68b43b6cd5cf266fa02f196e2371");
    std::remove(path);
}

TEST(AuthFileLoad, MissingFileAndDirectoryAreErrors) {
    Result<AuthFile> missing = loadAuthFile("/nonexistent/sluice/userlist.txt");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().message,
              "could not read auth_file /nonexistent/sluice/userlist.txt: No such file or directory");
    Result<AuthFile> directory = loadAuthFile("/tmp");
    ASSERT_FALSE(directory.ok());
    EXPECT_NE(directory.error().message.find("could not read auth_file /tmp: "), std::string::npos);
}

}  // namespace
}  // namespace sluice::auth
