// auth_type = hba: pg_hba.conf rules (PgBouncer's auth_hba_file), first match wins.
//   local      DATABASE USER METHOD
//   host|hostssl|hostnossl DATABASE USER ADDRESS METHOD     (ADDRESS: a/n CIDR, "addr mask", all)
// DATABASE: all, sameuser, replication, names, @file; USER: all, names, @file; lists with commas,
// names may be "quoted". METHOD: trust, reject, md5, password, scram-sha-256, cert, peer.
// Options after the method are accepted and ignored. Pure code, unit-tested.
#pragma once

#include <sys/socket.h>

#include <optional>
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
        int line = 0;
    };
    std::vector<Rule> rules_;
};

}  // namespace sluice::auth
