// SLUICE_<SETTING> environment variables over the file's [pooler] settings: the way a container
// changes one setting without a new pooler.ini (config.h).
#include <unistd.h>

#include <algorithm>
#include <array>

#include "config/config.h"
#include "config/value_parse.h"

namespace sluice::config {
namespace {

// SLUICE_ variables that are not settings: knobs of the daemon or of its tests.
constexpr std::array<std::string_view, 2> kNotSettings = {"SLUICE_NO_IO_URING", "SLUICE_TEST_BINARY"};

}  // namespace

EnvironmentVariables sluiceEnvironment() {
    EnvironmentVariables variables;
    for (char** entry = environ; entry && *entry; ++entry) {
        const std::string_view text(*entry);
        if (text.substr(0, kEnvironmentPrefix.size()) != kEnvironmentPrefix) continue;
        const size_t equals = text.find('=');
        if (equals == std::string_view::npos) continue;
        variables.emplace_back(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
    }
    return variables;
}

Status applyEnvironmentOverrides(Config& config, const EnvironmentVariables& variables) {
    for (const auto& [name, value] : variables) {
        if (std::string_view(name).substr(0, kEnvironmentPrefix.size()) != kEnvironmentPrefix) continue;
        if (std::find(kNotSettings.begin(), kNotSettings.end(), name) != kNotSettings.end()) continue;
        const std::string_view key = std::string_view(name).substr(kEnvironmentPrefix.size());
        const SettingDef* def = findSetting(key);
        if (!def) {
            config.warnings.push_back("environment variable " + name + " names no setting ('" + toLower(key) +
                                      "' is unknown); it is ignored");
            continue;
        }
        if (def->name == "conffile") {
            config.warnings.push_back("environment variable " + name +
                                      " is ignored: the configuration file is the one on the command line");
            continue;
        }
        auto status = applySetting(config, def->name, value, ApplyMode::Startup);
        if (!status) return Error{"environment variable " + name + ": " + status.error().message};
        config.overrides.push_back(name + " overrides setting " + std::string(def->name));
    }
    return okStatus();
}

}  // namespace sluice::config
