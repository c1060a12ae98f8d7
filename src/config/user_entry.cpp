#include "config/user_entry.h"

#include "config/conn_string.h"
#include "config/value_parse.h"

namespace sluice::config {
namespace {

Error invalidValue(std::string_view key, std::string_view value, std::string_view expected) {
    return Error{"invalid value '" + std::string(value) + "' for '" + std::string(key) + "': " + std::string(expected),
                 ""};
}

std::optional<int> UserEntry::*countField(std::string_view key) {
    if (key == "pool_size") return &UserEntry::poolSize;
    if (key == "reserve_pool_size") return &UserEntry::reservePoolSize;
    if (key == "max_user_connections") return &UserEntry::maxUserConnections;
    if (key == "max_user_client_connections") return &UserEntry::maxUserClientConnections;
    return nullptr;
}

std::optional<double> UserEntry::*secondsField(std::string_view key) {
    if (key == "query_timeout") return &UserEntry::queryTimeout;
    if (key == "query_wait_timeout") return &UserEntry::queryWaitTimeout;
    if (key == "idle_transaction_timeout") return &UserEntry::idleTransactionTimeout;
    if (key == "transaction_timeout") return &UserEntry::transactionTimeout;
    if (key == "client_idle_timeout") return &UserEntry::clientIdleTimeout;
    return nullptr;
}

Status applyKey(UserEntry& entry, std::string_view key, std::string_view value) {
    if (key == "pool_mode") {
        auto mode = parsePoolModeName(value);
        if (!mode) return invalidValue(key, value, "expected one of session, transaction, statement");
        entry.poolMode = std::move(*mode);
        return okStatus();
    }
    if (auto field = countField(key)) {
        const auto count = parseCount(value);
        if (!count) return invalidValue(key, value, "expected a whole number between 0 and 2147483647");
        entry.*field = *count;
        return okStatus();
    }
    if (auto field = secondsField(key)) {
        const auto secs = parseSeconds(value);
        // PgBouncer documents -1 as "not set" for query_wait_timeout; accept it for all of them.
        if (!secs || (*secs < 0 && *secs != -1))
            return invalidValue(key, value, "expected a non-negative number of seconds, or -1 for not set");
        entry.*field = *secs < 0 ? std::nullopt : std::optional<double>(*secs);
        return okStatus();
    }
    std::string allowed;
    for (const auto& name : userEntryKeys()) allowed += (allowed.empty() ? "" : ", ") + std::string(name);
    return Error{"unknown key '" + std::string(key) + "' in user entry; allowed keys: " + allowed, ""};
}

}  // namespace

const std::vector<std::string_view>& userEntryKeys() {
    static const std::vector<std::string_view> keys = {
        "pool_mode",     "pool_size",          "reserve_pool_size",        "max_user_connections",
        "max_user_client_connections", "query_timeout", "query_wait_timeout", "idle_transaction_timeout",
        "transaction_timeout", "client_idle_timeout"};
    return keys;
}

Result<UserEntry> parseUserEntry(std::string_view name, std::string_view value) {
    if (name.empty()) return Error{"empty user name", ""};
    auto pairs = splitConnString(value);
    if (!pairs) return pairs.error();
    UserEntry entry;
    entry.name = std::string(name);
    for (const auto& [key, text] : pairs.value()) {
        auto status = applyKey(entry, key, text);
        if (!status) return status.error();
    }
    return entry;
}

}  // namespace sluice::config
