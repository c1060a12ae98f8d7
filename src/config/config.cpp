#include "config/config.h"

#include "config/value_parse.h"

namespace sluice::config {

Status applySetting(Config& config, std::string_view key, std::string_view value, ApplyMode mode) {
    const SettingDef* def = findSetting(key);
    if (!def) return Error{"unknown setting '" + toLower(key) + "'", "42704"};  // undefined_object
    if (mode == ApplyMode::Runtime && !def->reloadable)
        return Error{"setting '" + std::string(def->name) +
                         "' cannot be changed while running; change it in the configuration file and restart",
                     "55P02"};  // cant_change_runtime_param
    auto status = setSetting(config.settings, *def, value);
    if (!status) return status;
    if (!def->supported)
        config.warnings.push_back("setting " + std::string(def->name) +
                                  " is not supported yet by Sluice; it is ignored");
    return okStatus();
}

std::vector<const SettingDef*> changedSettings(const Settings& before, const Settings& after) {
    std::vector<const SettingDef*> changed;
    for (const auto& def : settingTable())
        if (settingValue(before, def) != settingValue(after, def)) changed.push_back(&def);
    return changed;
}

}  // namespace sluice::config
