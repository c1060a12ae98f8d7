// auth_type = hba: pg_hba.conf rules (PgBouncer's auth_hba_file), first match wins.
//   local      DATABASE USER METHOD
//   host|hostssl|hostnossl DATABASE USER ADDRESS METHOD     (ADDRESS: a/n CIDR, "addr mask", all)
// DATABASE: all, sameuser, replication, names, @file; USER: all, names, @file; lists with commas,
// names may be "quoted". METHOD: trust, reject, md5, password, scram-sha-256, cert, peer.
// Options after the method: map=NAME (a user name map of auth_ident_file, for cert and peer);
// others are accepted and ignored. Pure code, unit-tested.
#pragma once

#include <sys/socket.h>

#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace sluice::auth {

class HbaRules {
public:
    struct Request {
        bool isUnix = false;
        bool tls = false;
        bool replication = false;
        std::string database;
        std::string user;
        sockaddr_storage address{};  // for TCP
    };
    struct Match {
        std::string method;  // "reject" when no rule matched, as PostgreSQL
        int line = 0;        // 0 when no rule matched
        std::string map;     // map=NAME of the rule, "" when none
    };

    // fileName names the text in errors and is the base for @file includes.
    static Result<HbaRules> parse(std::string_view text, const std::string& fileName);
    static Result<HbaRules> load(const std::string& path);

    Match match(const Request& request) const;
    size_t size() const { return rules_.size(); }

private:
    enum class Kind { Local, Host, HostSsl, HostNoSsl };
    struct Rule {
        Kind kind;
        std::vector<std::string> databases;
        std::vector<std::string> users;
        bool anyAddress = false;
        sockaddr_storage address{};
        int prefixBits = 0;
        std::string method;
        std::string map;
        int line = 0;
    };
    std::vector<Rule> rules_;
};

// auth_ident_file (pg_ident.conf syntax): `MAPNAME SYSTEM-USERNAME DATABASE-USERNAME` per line;
// a system name starting with '/' is a regular expression, and \1 in the database name stands
// for its first group.
class IdentMaps {
public:
    static Result<IdentMaps> parse(std::string_view text, const std::string& fileName);
    static Result<IdentMaps> load(const std::string& path);
    // Whether map `map` lets the system (OS or certificate) user log in as `databaseUser`.
    bool allows(const std::string& map, const std::string& systemUser, const std::string& databaseUser) const;

private:
    struct Entry {
        std::string map, system, database;
        int line = 0;
        // A system user given as /regex: compiled once, at load. Shared: a reload's copy and the
        // workers that match with it only read it.
        std::shared_ptr<const std::regex> pattern;
    };
    std::vector<Entry> entries_;
};

}  // namespace sluice::auth
