// The man page and the sample configuration list every setting of the table (DESIGN §5), so a
// setting added without `scripts/gen_settings_docs.py` being run fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "config/settings.h"

namespace {

std::string readSourceFile(const std::string& relative) {
    std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/" + relative);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(DocsSettings, ManPageListsEverySetting) {
    const std::string man = readSourceFile("man/pooler.ini.5");
    ASSERT_FALSE(man.empty());
    for (const auto& def : sluice::config::settingTable()) {
        std::string entry = ".B " + std::string(def.name) + "\n";
        EXPECT_NE(man.find(entry), std::string::npos) << def.name << " is missing from man/pooler.ini.5";
    }
}

TEST(DocsSettings, SampleConfigListsEverySettingWithItsDefault) {
    const std::string ini = readSourceFile("etc/pooler.ini");
    ASSERT_FALSE(ini.empty());
    for (const auto& def : sluice::config::settingTable()) {
        std::string entry = "\n;" + std::string(def.name) + " = " + std::string(def.defaultValue) + "\n";
        EXPECT_NE(ini.find(entry), std::string::npos) << def.name << " is missing from etc/pooler.ini (or its default differs)";
    }
}

}  // namespace
