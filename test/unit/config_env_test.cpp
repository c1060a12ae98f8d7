// SLUICE_<SETTING> environment overrides: applied over the file through the settings table,
// validated the same way, errors naming the variable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/config.h"

namespace sluice::config {
namespace {

using ::testing::HasSubstr;

Config load(std::string_view extra = "") {
    auto config = parseConfigString("[pgbouncer]\nlisten_port = 6432\ndefault_pool_size = 5\n" + std::string(extra),
                                    "test.ini");
    EXPECT_TRUE(config) << config.error().message;
    return config.value();
}

TEST(ConfigEnv, OverridesWinOverTheFile) {
    Config config = load();
    auto status = applyEnvironmentOverrides(
        config, {{"SLUICE_DEFAULT_POOL_SIZE", "20"}, {"SLUICE_POOL_MODE", "Transaction"}, {"SLUICE_LISTEN_PORT", "7000"}});
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_EQ(config.settings.default_pool_size, 20);
    EXPECT_EQ(config.settings.pool_mode, "transaction");  // canonical spelling, as from the file
    EXPECT_EQ(config.settings.listen_port, 7000);          // restart-only settings too
    EXPECT_EQ(settingValue(config.settings, *findSetting("default_pool_size")), "20");
    ASSERT_EQ(config.overrides.size(), 3u);
    EXPECT_EQ(config.overrides[0], "SLUICE_DEFAULT_POOL_SIZE overrides setting default_pool_size");
    EXPECT_TRUE(config.warnings.empty());
}

TEST(ConfigEnv, BadValueNamesTheVariable) {
    Config config = load();
    auto status = applyEnvironmentOverrides(config, {{"SLUICE_DEFAULT_POOL_SIZE", "lots"}});
    ASSERT_FALSE(status);
    EXPECT_THAT(status.error().message, HasSubstr("environment variable SLUICE_DEFAULT_POOL_SIZE"));
    EXPECT_THAT(status.error().message, HasSubstr("invalid value 'lots' for setting 'default_pool_size'"));

    auto mode = applyEnvironmentOverrides(config, {{"SLUICE_POOL_MODE", "sometimes"}});
    ASSERT_FALSE(mode);
    EXPECT_THAT(mode.error().message, HasSubstr("SLUICE_POOL_MODE"));
    EXPECT_THAT(mode.error().message, HasSubstr("session"));  // the allowed values
}

TEST(ConfigEnv, UnknownNamesWarnAndOthersAreIgnored) {
    Config config = load();
    auto status = applyEnvironmentOverrides(config, {{"SLUICE_DEFAULT_POOLSIZE", "9"},
                                                     {"SLUICE_NO_IO_URING", "1"},
                                                     {"SLUICE_TEST_BINARY", "/x"},
                                                     {"PGBOUNCER_DEFAULT_POOL_SIZE", "9"},
                                                     {"SLUICE_CONFFILE", "/etc/other.ini"}});
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_EQ(config.settings.default_pool_size, 5);
    ASSERT_EQ(config.warnings.size(), 2u);
    EXPECT_THAT(config.warnings[0], HasSubstr("SLUICE_DEFAULT_POOLSIZE names no setting"));
    EXPECT_THAT(config.warnings[1], HasSubstr("SLUICE_CONFFILE is ignored"));
    EXPECT_TRUE(config.overrides.empty());
}

TEST(ConfigEnv, NotSupportedSettingsWarnAsInTheFile) {
    Config config = load();
    ASSERT_TRUE(applyEnvironmentOverrides(config, {{"SLUICE_DNS_MAX_TTL", "30"}}));
    ASSERT_EQ(config.warnings.size(), 1u);
    EXPECT_THAT(config.warnings[0], HasSubstr("dns_max_ttl is not supported yet"));
}

TEST(ConfigEnv, ReadsOnlySluiceVariablesFromTheProcess) {
    ::setenv("SLUICE_UNIT_TEST_PROBE", "a=b", 1);
    bool found = false;
    for (const auto& [name, value] : sluiceEnvironment()) {
        EXPECT_EQ(name.rfind("SLUICE_", 0), 0u) << name;
        if (name == "SLUICE_UNIT_TEST_PROBE") found = value == "a=b";
    }
    ::unsetenv("SLUICE_UNIT_TEST_PROBE");
    EXPECT_TRUE(found);
}

}  // namespace
}  // namespace sluice::config
