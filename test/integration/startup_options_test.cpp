// The `options` startup parameter as PgBouncer 1.25 reads it: -c name=value, -cname=value and
// --name=value for the parameters it follows; anything else is refused with its words, unless
// ignore_startup_parameters names the setting or `options` itself.
#include <gtest/gtest.h>

#include "sluice_process.h"

namespace sluice::itest {
namespace {

class StartupOptions : public ::testing::Test {
protected:
    void startSluice(const std::string& extra = "") {
        ASSERT_TRUE(sluice_.start(basicIni(sharedPg(), freePort(), "pool_mode = transaction\n" + extra)));
    }
    PqConn connectWith(const std::string& options) {
        return PqConn(conninfo({{"host", "127.0.0.1"},
                                {"port", std::to_string(sluice_.port())},
                                {"user", "app"},
                                {"password", "apppass"},
                                {"dbname", "app"},
                                {"sslmode", "disable"},
                                {"options", options}}));
    }

    SluiceProcess sluice_;
};

TEST_F(StartupOptions, EveryFormOfAFollowedParameterIsTaken) {
    startSluice();
    for (const auto& [options, zone] : std::vector<std::pair<std::string, std::string>>{
             {"-c TimeZone=Asia/Tokyo", "Asia/Tokyo"},
             {"-cTimeZone=Europe/Paris", "Europe/Paris"},
             {"--TimeZone=America/Lima", "America/Lima"},
             {"-c application_name=my\\ app -c TimeZone=UTC", "UTC"}}) {
        PqConn client = connectWith(options);
        ASSERT_TRUE(client.isOk()) << options << ": " << client.error();
        EXPECT_EQ(client.exec("SHOW TimeZone").value(), zone) << options;
    }
    EXPECT_EQ(connectWith("-c application_name=my\\ app").exec("SHOW application_name").value(), "my app");
}

TEST_F(StartupOptions, AnythingElseIsRefusedWithPgBouncersWords) {
    startSluice();
    for (const char* options : {"-d 5", "-c TimeZone", "-c", "--flag", "verbose"}) {
        PqConn client = connectWith(options);
        EXPECT_FALSE(client.isOk()) << options;
        EXPECT_NE(client.error().find("unsupported options startup parameter: only '-c config=val' and "
                                      "'--config=val' are allowed"),
                  std::string::npos)
            << options << ": " << client.error();
    }
    PqConn untracked = connectWith("-c statement_timeout=5s");
    EXPECT_FALSE(untracked.isOk());
    EXPECT_NE(untracked.error().find("unsupported startup parameter in options: statement_timeout"),
              std::string::npos)
        << untracked.error();
    EXPECT_NE(sluice_.log().find("unsupported startup parameter in options: statement_timeout=5s"), std::string::npos);
}

TEST_F(StartupOptions, IgnoringOptionsIgnoresOnlyWhatIsNotFollowed) {
    startSluice("ignore_startup_parameters = options\n");
    PqConn client = connectWith("-c statement_timeout=5s -c TimeZone=Asia/Tokyo");
    ASSERT_TRUE(client.isOk()) << client.error();
    EXPECT_EQ(client.exec("SHOW TimeZone").value(), "Asia/Tokyo") << "followed parameters still apply";
    EXPECT_NE(client.exec("SHOW statement_timeout").value(), "5s");
    // Naming the setting itself works too.
    sluice_.stop();
    startSluice("ignore_startup_parameters = statement_timeout\n");
    EXPECT_TRUE(connectWith("-c statement_timeout=5s").isOk());
}

}  // namespace
}  // namespace sluice::itest
