#include "auth/hba.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

namespace sluice::auth {

namespace {

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Whether the first character after the blanks at `from` is an unquoted list comma.
bool commaFollows(std::string_view line, size_t from) {
    while (from < line.size() && isBlank(line[from])) ++from;
    return from < line.size() && line[from] == ',';
}

// Splits a line into tokens: whitespace-separated, "quoted" with "" inside, # starts a comment.
// A comma-separated list stays one token (split later), as in pg_hba.conf. Blanks next to its
// commas do not end it ("a, b" and "a , b"), as PgBouncer reads the file; PostgreSQL reads
// "a, b" the same way and refuses "a , b".
Result<std::vector<std::string>> tokenize(std::string_view line) {
    std::vector<std::string> tokens;
    std::string current;
    bool inToken = false, quoted = false;
    bool afterComma = false;  // the last character taken was an unquoted list comma
    for (size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < line.size() && line[i + 1] == '"') {
                    current += '"';
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                current += c;
            }
            continue;
        }
        if (c == '#') break;
        if (isBlank(c)) {
            if (inToken && (afterComma || commaFollows(line, i))) continue;  // the list goes on
            if (inToken) tokens.push_back(std::move(current));
            current.clear();
            inToken = false;
            continue;
        }
        inToken = true;
        afterComma = c == ',';
        if (c == '"') quoted = true;
        else current += c;
    }
    if (quoted) return Error{"unterminated quoted name"};
    if (inToken) tokens.push_back(std::move(current));
    return tokens;
}

std::vector<std::string> splitCommas(const std::string& token) {
    std::vector<std::string> out;
    std::stringstream in(token);
    std::string item;
    while (std::getline(in, item, ',')) out.push_back(item);
    return out;
}

// @file: names from another file, whitespace or comma separated, relative to the hba file.
Status expandFile(const std::string& name, const std::string& hbaFile, std::vector<std::string>& out) {
    std::filesystem::path path(name);
    if (path.is_relative()) path = std::filesystem::path(hbaFile).parent_path() / path;
    std::ifstream in(path);
    if (!in) return Error{fmt::format("cannot read {}", path.string())};
    std::string word;
    while (in >> word)
        for (auto& item : splitCommas(word))
            if (!item.empty() && item[0] != '#') out.push_back(item);
    return okStatus();
}

Result<std::vector<std::string>> nameList(const std::string& token, const std::string& fileName) {
    std::vector<std::string> names;
    for (const auto& item : splitCommas(token)) {
        if (item.empty()) return Error{"empty name in a list"};
        if (item[0] == '@') {
            if (auto status = expandFile(item.substr(1), fileName, names); !status) return status.error();
        } else if (item[0] == '+') {
            return Error{fmt::format("group membership ('{}') is not supported", item)};
        } else {
            names.push_back(item);
        }
    }
    return names;
}

bool parseAddress(const std::string& text, sockaddr_storage& out) {
    std::memset(&out, 0, sizeof out);
    auto* in4 = reinterpret_cast<sockaddr_in*>(&out);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
    if (inet_pton(AF_INET, text.c_str(), &in4->sin_addr) == 1) {
        out.ss_family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) == 1) {
        out.ss_family = AF_INET6;
        return true;
    }
    return false;
}

const uint8_t* addressBytes(const sockaddr_storage& address, size_t& length) {
    if (address.ss_family == AF_INET) {
        length = 4;
        return reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&address)->sin_addr);
    }
    length = 16;
    return reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr);
}

// A netmask ("255.255.255.0") as a prefix length; -1 when it is not a contiguous mask.
int maskBits(const sockaddr_storage& mask) {
    size_t length = 0;
    const uint8_t* bytes = addressBytes(mask, length);
    int bits = 0;
    bool ended = false;
    for (size_t i = 0; i < length; ++i)
        for (int b = 7; b >= 0; --b) {
            const bool set = (bytes[i] >> b) & 1;
            if (set && ended) return -1;
            if (set) ++bits;
            else ended = true;
        }
    return bits;
}

bool inNetwork(const sockaddr_storage& address, const sockaddr_storage& network, int prefixBits) {
    sockaddr_storage candidate = address;
    // An IPv4 client on an IPv6 socket (::ffff:a.b.c.d) matches IPv4 rules.
    if (candidate.ss_family == AF_INET6 && network.ss_family == AF_INET) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
        if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return false;
        std::memset(&candidate, 0, sizeof candidate);
        candidate.ss_family = AF_INET;
        std::memcpy(&reinterpret_cast<sockaddr_in*>(&candidate)->sin_addr, &in6->sin6_addr.s6_addr[12], 4);
    }
    if (candidate.ss_family != network.ss_family) return false;
    size_t length = 0;
    const uint8_t* a = addressBytes(candidate, length);
    const uint8_t* n = addressBytes(network, length);
    for (int bit = 0; bit < prefixBits; ++bit) {
        const int byte = bit / 8, shift = 7 - bit % 8;
        if (((a[byte] >> shift) & 1) != ((n[byte] >> shift) & 1)) return false;
    }
    return true;
}

const std::set<std::string_view> kMethods = {"trust", "reject", "md5", "password", "scram-sha-256", "cert", "peer"};

}  // namespace

Result<HbaRules> HbaRules::load(const std::string& path) {
    std::ifstream in(path);
    if (!in) return Error{fmt::format("could not read auth_hba_file {}: {}", path, std::strerror(errno))};
    std::stringstream text;
    text << in.rdbuf();
    return parse(text.str(), path);
}

Result<HbaRules> HbaRules::parse(std::string_view text, const std::string& fileName) {
    HbaRules rules;
    std::stringstream lines{std::string(text)};
    std::string line;
    int number = 0;
    while (std::getline(lines, line)) {
        ++number;
        auto fail = [&](const std::string& what) { return Error{fmt::format("{}:{}: {}", fileName, number, what)}; };
        auto tokens = tokenize(line);
        if (!tokens) return fail(tokens.error().message);
        std::vector<std::string>& t = tokens.value();
        if (t.empty()) continue;
        Rule rule;
        rule.line = number;
        if (t[0] == "local") rule.kind = Kind::Local;
        else if (t[0] == "host") rule.kind = Kind::Host;
        else if (t[0] == "hostssl") rule.kind = Kind::HostSsl;
        else if (t[0] == "hostnossl") rule.kind = Kind::HostNoSsl;
        else return fail(fmt::format("unknown connection type '{}' (allowed: local, host, hostssl, hostnossl)", t[0]));
        const size_t methodAt = rule.kind == Kind::Local ? 3 : 4;
        if (t.size() <= methodAt) return fail("a rule needs a connection type, database, user, address and method");
        auto databases = nameList(t[1], fileName);
        auto users = nameList(t[2], fileName);
        if (!databases) return fail(databases.error().message);
        if (!users) return fail(users.error().message);
        rule.databases = std::move(databases.value());
        rule.users = std::move(users.value());
        size_t methodIndex = methodAt;
        if (rule.kind != Kind::Local) {
            const std::string& address = t[3];
            if (address == "all") {
                rule.anyAddress = true;
            } else if (const size_t slash = address.find('/'); slash != std::string::npos) {
                if (!parseAddress(address.substr(0, slash), rule.address))
                    return fail(fmt::format("invalid address '{}'", address));
                // Digits only, all of them (atoi took "8x" as 8 and wrapped past INT_MAX).
                const char* bits = address.data() + slash + 1;
                const char* end = address.data() + address.size();
                const auto [stop, ec] = std::from_chars(bits, end, rule.prefixBits);
                const int maxBits = rule.address.ss_family == AF_INET ? 32 : 128;
                if (bits == end || *bits == '-' || ec != std::errc() || stop != end || rule.prefixBits > maxBits)
                    return fail(fmt::format("invalid CIDR mask in '{}'", address));
            } else if (parseAddress(address, rule.address)) {
                // "address mask" form
                sockaddr_storage mask{};
                if (t.size() <= methodAt + 1 || !parseAddress(t[4], mask) || mask.ss_family != rule.address.ss_family ||
                    (rule.prefixBits = maskBits(mask)) < 0)
                    return fail(fmt::format("address '{}' needs a CIDR mask or a netmask after it", address));
                methodIndex = methodAt + 1;
            } else {
                return fail(fmt::format("invalid address '{}' (host names, samehost and samenet are not supported)",
                                        address));
            }
        }
        rule.method = t[methodIndex];
        for (size_t i = methodIndex + 1; i < t.size(); ++i)
            if (t[i].rfind("map=", 0) == 0) rule.map = t[i].substr(4);
        if (!rule.map.empty() && rule.method != "cert" && rule.method != "peer")
            return fail(fmt::format("map= is only for cert and peer rules, not {}", rule.method));
        if (!kMethods.count(rule.method))
            return fail(fmt::format("unsupported method '{}' (allowed: trust, reject, md5, password, scram-sha-256, "
                                    "cert, peer)",
                                    rule.method));
        if (rule.method == "peer" && rule.kind != Kind::Local) return fail("peer is only for local rules");
        rules.rules_.push_back(std::move(rule));
    }
    return rules;
}

HbaRules::Match HbaRules::match(const Request& request) const {
    for (const auto& rule : rules_) {
        switch (rule.kind) {
            case Kind::Local:
                if (!request.isUnix) continue;
                break;
            case Kind::Host:
                if (request.isUnix) continue;
                break;
            case Kind::HostSsl:
                if (request.isUnix || !request.tls) continue;
                break;
            case Kind::HostNoSsl:
                if (request.isUnix || request.tls) continue;
                break;
        }
        if (!request.isUnix && !rule.anyAddress && !inNetwork(request.address, rule.address, rule.prefixBits))
            continue;
        bool databaseMatches = false;
        for (const auto& name : rule.databases)
            databaseMatches |= (name == "all" && !request.replication) ||
                               (name == "sameuser" && request.database == request.user) ||
                               (name == "replication" && request.replication) || name == request.database;
        if (!databaseMatches) continue;
        bool userMatches = false;
        for (const auto& name : rule.users) userMatches |= name == "all" || name == request.user;
        if (!userMatches) continue;
        return {rule.method, rule.line, rule.map};
    }
    return {"reject", 0, ""};
}

Result<IdentMaps> IdentMaps::load(const std::string& path) {
    std::ifstream in(path);
    if (!in) return Error{fmt::format("could not read auth_ident_file {}: {}", path, std::strerror(errno))};
    std::stringstream text;
    text << in.rdbuf();
    return parse(text.str(), path);
}

namespace {

// PostgreSQL's regular expressions allow a bound {m,n} of at most 255 (DUPMAX). libstdc++'s
// std::regex reads the digits into a long without a check (signed overflow, found by the hba
// fuzz target) and expands a large bound into that many copies of the atom, so bounds are
// checked here first. A '{' after a backslash is a literal brace and is skipped.
bool boundsWithinLimit(std::string_view regex) {
    constexpr int kMaxBound = 255;
    for (size_t i = 0; i < regex.size(); ++i) {
        if (regex[i] == '\\') {
            ++i;
            continue;
        }
        if (regex[i] != '{') continue;
        for (size_t j = i + 1; j < regex.size(); ++j) {
            if (regex[j] == ',') continue;
            if (regex[j] < '0' || regex[j] > '9') break;
            int value = 0;
            for (; j < regex.size() && regex[j] >= '0' && regex[j] <= '9'; ++j) {
                value = value * 10 + (regex[j] - '0');
                if (value > kMaxBound) return false;
            }
            --j;
        }
    }
    return true;
}

}  // namespace

Result<IdentMaps> IdentMaps::parse(std::string_view text, const std::string& fileName) {
    IdentMaps maps;
    std::stringstream lines{std::string(text)};
    std::string line;
    int number = 0;
    while (std::getline(lines, line)) {
        ++number;
        auto tokens = tokenize(line);
        if (!tokens) return Error{fmt::format("{}:{}: {}", fileName, number, tokens.error().message)};
        if (tokens->empty()) continue;
        if (tokens->size() != 3)
            return Error{fmt::format("{}:{}: a map line is MAPNAME SYSTEM-USERNAME DATABASE-USERNAME", fileName, number)};
        Entry entry{(*tokens)[0], (*tokens)[1], (*tokens)[2], number, nullptr};
        if (entry.system[0] == '/') {
            if (!boundsWithinLimit(entry.system))
                return Error{fmt::format("{}:{}: invalid regular expression '{}': a repetition bound exceeds 255",
                                         fileName, number, entry.system.substr(1))};
            try {
                // libstdc++'s polynomial mode matches breadth-first, in time linear in the user
                // name for a given pattern: a pattern such as (a+)+$ cannot make a login that
                // presents a long name spin a worker (the depth-first default backtracks
                // exponentially). Extended (POSIX ERE) patterns have no back-references to lose.
                entry.pattern = std::make_shared<const std::regex>(
                    entry.system.substr(1), std::regex::extended | std::regex_constants::__polynomial);
            } catch (const std::regex_error& e) {
                return Error{fmt::format("{}:{}: invalid regular expression '{}': {}", fileName, number,
                                         entry.system.substr(1), e.what())};
            }
        }
        maps.entries_.push_back(std::move(entry));
    }
    return maps;
}

bool IdentMaps::allows(const std::string& map, const std::string& systemUser, const std::string& databaseUser) const {
    for (const auto& entry : entries_) {
        if (entry.map != map) continue;
        if (entry.system[0] != '/') {
            if (entry.system == systemUser && (entry.database == databaseUser || entry.database == "all")) return true;
            continue;
        }
        std::smatch groups;
        if (!std::regex_match(systemUser, groups, *entry.pattern)) continue;
        std::string wanted = entry.database;
        if (auto at = wanted.find("\\1"); at != std::string::npos && groups.size() > 1)
            wanted.replace(at, 2, groups[1].str());
        if (wanted == databaseUser || wanted == "all") return true;
    }
    return false;
}

}  // namespace sluice::auth
