// log_format = json: each line one JSON object, connection fields apart from the message.
#include <gtest/gtest.h>

#include "util/log.h"

namespace sluice::log {
namespace {

TEST(LogJson, ConnectionLinesHaveTheirFieldsApart) {
    EXPECT_EQ(jsonLine("2026-11-22T09:00:00.123Z", 42, "LOG",
                       "C-12: app/alice@127.0.0.1:50001 login attempt: db=app user=alice tls=no"),
              "{\"ts\":\"2026-11-22T09:00:00.123Z\",\"pid\":42,\"level\":\"LOG\",\"connection\":\"C-12\","
              "\"database\":\"app\",\"user\":\"alice\",\"client\":\"127.0.0.1:50001\","
              "\"message\":\"login attempt: db=app user=alice tls=no\"}\n");
    EXPECT_EQ(jsonLine("t", 1, "LOG", "S-7: app/app@10.0.0.5:5432 new connection to server (from 10.0.0.1:4000)"),
              "{\"ts\":\"t\",\"pid\":1,\"level\":\"LOG\",\"connection\":\"S-7\",\"database\":\"app\","
              "\"user\":\"app\",\"server\":\"10.0.0.5:5432\",\"message\":\"new connection to server (from "
              "10.0.0.1:4000)\"}\n");
}

TEST(LogJson, OtherLinesAndEscaping) {
    EXPECT_EQ(jsonLine("t", 1, "WARNING", "file.ini:3: unknown setting 'x'"),
              "{\"ts\":\"t\",\"pid\":1,\"level\":\"WARNING\",\"message\":\"file.ini:3: unknown setting 'x'\"}\n");
    EXPECT_EQ(jsonLine("t", 1, "LOG", "quote \" backslash \\ newline\n tab\t bell\a"),
              "{\"ts\":\"t\",\"pid\":1,\"level\":\"LOG\",\"message\":\"quote \\\" backslash \\\\ newline\\n tab\\t "
              "bell\\u0007\"}\n");
    // Looks like a connection prefix but is not one: kept whole.
    EXPECT_EQ(jsonLine("t", 1, "LOG", "C-x: not/a@conn"),
              "{\"ts\":\"t\",\"pid\":1,\"level\":\"LOG\",\"message\":\"C-x: not/a@conn\"}\n");
}

}  // namespace
}  // namespace sluice::log
