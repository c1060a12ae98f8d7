#include <gtest/gtest.h>

#include "conn/startup_options.h"

namespace sluice::conn {
namespace {

TEST(StartupOptions, ParsesEveryFormOfSetting) {
    auto parsed = parseStartupOptions("-c TimeZone=UTC -capplication_name=x --statement-timeout=5s");
    ASSERT_TRUE(parsed) << parsed.error().message;
    ASSERT_EQ(parsed->size(), 3u);
    EXPECT_EQ((*parsed)[0], (std::pair<std::string, std::string>{"TimeZone", "UTC"}));
    EXPECT_EQ((*parsed)[1], (std::pair<std::string, std::string>{"application_name", "x"}));
    EXPECT_EQ((*parsed)[2], (std::pair<std::string, std::string>{"statement_timeout", "5s"}));
}

TEST(StartupOptions, BackslashEscapesWhitespace) {
    auto parsed = parseStartupOptions("-c application_name=my\\ app   -c DateStyle=ISO,\\ DMY");
    ASSERT_TRUE(parsed);
    ASSERT_EQ(parsed->size(), 2u);
    EXPECT_EQ((*parsed)[0].second, "my app");
    EXPECT_EQ((*parsed)[1].second, "ISO, DMY");
}

TEST(StartupOptions, EmptyIsNothing) {
    auto parsed = parseStartupOptions("   ");
    ASSERT_TRUE(parsed);
    EXPECT_TRUE(parsed->empty());
}

TEST(StartupOptions, RejectsWhatIsNotASetting) {
    for (const char* bad : {"-d 5", "-c", "-c =x", "-c novalue", "plain", "--flag", "-c a=1 -B 8"}) {
        auto parsed = parseStartupOptions(bad);
        ASSERT_FALSE(parsed) << bad;
        EXPECT_EQ(parsed.error().sqlstate, "08P01") << bad;
        EXPECT_EQ(parsed.error().message,
                  "unsupported options startup parameter: only '-c config=val' and '--config=val' are allowed");
    }
}

}  // namespace
}  // namespace sluice::conn
