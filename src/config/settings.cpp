#include "config/settings.h"

#include <fmt/format.h>

#include <stdexcept>

#include "config/value_parse.h"

namespace sluice::config {
namespace {

template <class T>
T Settings::*fieldAs(const SettingDef& def) {
    // A mismatch is a bug in the table, found by the first test that loads the defaults.
    auto* field = std::get_if<T Settings::*>(&def.field);
    if (!field) throw std::logic_error("setting '" + std::string(def.name) + "' has a field of the wrong type");
    return *field;
}

std::string joinAllowed(const std::vector<std::string_view>& allowed) {
    std::string joined;
    for (size_t i = 0; i < allowed.size(); ++i) {
        if (i > 0) joined += (i + 1 == allowed.size()) ? " or " : ", ";
        joined += allowed[i];
    }
    return joined;
}

Error invalid(const SettingDef& def, std::string_view value, std::string_view expected) {
    return Error{"invalid value '" + std::string(value) + "' for setting '" + std::string(def.name) + "': " +
                     std::string(expected),
                 "22023"};  // invalid_parameter_value, for SET on the admin console
}

std::string rangeText(const SettingDef& def) {
    return "between " + std::to_string(def.min) + " and " + std::to_string(def.max);
}

const std::string_view* findAllowed(const SettingDef& def, std::string_view word) {
    const std::string lower = toLower(word);
    for (const auto& candidate : def.allowed)
        if (candidate == lower) return &candidate;
    return nullptr;
}

}  // namespace

const SettingDef* findSetting(std::string_view name) {
    const std::string lower = toLower(name);
    for (const auto& def : settingTable())
        if (def.name == lower) return &def;
    return nullptr;
}

std::vector<std::string> splitList(std::string_view list) {
    std::vector<std::string> items;
    while (true) {
        const auto comma = list.find(',');
        const auto item = trim(list.substr(0, comma));
        if (!item.empty()) items.emplace_back(item);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return items;
}

Status setSetting(Settings& settings, const SettingDef& def, std::string_view value) {
    switch (def.type) {
        case Type::String:
            // As PgBouncer: the console's pseudo-database runs no auth_query (at load, RELOAD, SET).
            if (def.name == "auth_dbname" && isConsoleDatabase(value))
                return Error{fmt::format("cannot use the reserved \"{}\" database as an auth_dbname", value), "22023"};
            settings.*fieldAs<std::string>(def) = std::string(value);
            return okStatus();
        case Type::List:
            if (!def.allowed.empty())
                for (const auto& item : splitList(value))
                    if (!findAllowed(def, item))
                        return invalid(def, value, "each item must be one of " + joinAllowed(def.allowed));
            settings.*fieldAs<std::string>(def) = std::string(value);
            return okStatus();
        case Type::Enum: {
            const auto* canonical = findAllowed(def, value);
            if (!canonical) return invalid(def, value, "expected one of " + joinAllowed(def.allowed));
            settings.*fieldAs<std::string>(def) = std::string(*canonical);
            return okStatus();
        }
        case Type::Int: {
            if (!def.allowed.empty() && findAllowed(def, value)) {  // its one keyword: stored as 0
                settings.*fieldAs<int64_t>(def) = 0;
                return okStatus();
            }
            const auto number = parseInteger(value);
            if (!number || *number < def.min || *number > def.max)
                return invalid(def, value,
                               "expected a whole number " + rangeText(def) +
                                   (def.allowed.empty() ? "" : " or " + joinAllowed(def.allowed)));
            settings.*fieldAs<int64_t>(def) = *number;
            return okStatus();
        }
        case Type::Octal: {
            const auto mode = parseOctal(value);
            if (!mode || *mode < def.min || *mode > def.max)
                return invalid(def, value, "expected an octal file mode such as 0777 (at most 07777)");
            settings.*fieldAs<int64_t>(def) = *mode;
            return okStatus();
        }
        case Type::Bool: {
            const auto flag = parseBoolean(value);
            if (!flag) return invalid(def, value, "expected a boolean: 1, 0, yes, no, on, off, true or false");
            settings.*fieldAs<bool>(def) = *flag;
            return okStatus();
        }
        case Type::Time: {
            const auto secs = parseSeconds(value);
            if (!secs || *secs < static_cast<double>(def.min) || *secs > static_cast<double>(def.max))
                return invalid(def, value,
                               "expected a number of seconds " + rangeText(def) + " (fractions allowed, no unit)");
            settings.*fieldAs<double>(def) = *secs;
            return okStatus();
        }
    }
    return invalid(def, value, "unknown setting type");
}

std::string settingValue(const Settings& settings, const SettingDef& def) {
    switch (def.type) {
        case Type::String:
        case Type::List:
        case Type::Enum:
            return settings.*fieldAs<std::string>(def);
        case Type::Int: {
            const int64_t number = settings.*fieldAs<int64_t>(def);
            return number == 0 && !def.allowed.empty() ? std::string(def.allowed.front()) : std::to_string(number);
        }
        case Type::Octal:
            return formatOctal(settings.*fieldAs<int64_t>(def));
        case Type::Bool:
            return settings.*fieldAs<bool>(def) ? "1" : "0";
        case Type::Time:
            return formatSeconds(settings.*fieldAs<double>(def));
    }
    return {};
}

Settings defaultSettings() {
    // Built once: defaults go through setSetting() so a bad default is caught like a bad file.
    static const Settings defaults = [] {
        Settings settings;
        for (const auto& def : settingTable()) {
            auto status = setSetting(settings, def, def.defaultValue);
            if (!status) throw std::logic_error("bad default in the settings table: " + status.error().message);
        }
        return settings;
    }();
    return defaults;
}

}  // namespace sluice::config
