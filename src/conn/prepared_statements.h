// Named prepared statements in transaction and statement pooling (DESIGN §10), as PgBouncer
// 1.21+ does with max_prepared_statements: a client's statements live in the pooler, by the
// client's names; each server holds an LRU of statements under pooler-made names; Parse, Bind,
// Describe and Close are rewritten on the way to the server, and the answers the pooler makes
// itself (a ParseComplete for a statement the server already has, a CloseComplete) or swallows
// (for a Parse or Close it added) are put in the right place of the server's answer stream.
//
// Pure: the connections feed it messages and write what it returns; unit-tested without IO.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pool/pool_stats.h"

namespace sluice::conn {

// One statement's text and parameter types, shared by every client that prepared the same,
// known to servers as `serverName`. A statement prepared in SQL (PREPARE name AS …) keeps the
// text after its name in `query` and kSqlStatement as its parameter types.
inline constexpr std::string_view kSqlStatement = "\xffsql";  // no Parse has 4 bytes of types
struct Statement {
    uint64_t id = 0;
    std::string serverName;  // "sluice_<id>"
    std::string query;
    std::string paramTypes;  // Parse's int16 count and OIDs, as sent
    // A server accepted it once: a client's Parse of the same needs no server to be answered
    // (PostgreSQL would parse it again just the same, short of DDL in between).
    mutable bool verified = false;
    bool isSql() const { return paramTypes == kSqlStatement; }
};
using StatementRef = std::shared_ptr<const Statement>;

// A worker's statements by content: equal texts share one id and one server-side name. An
// entry lives as long as a client or a server holds it.
class StatementCatalog {
public:
    explicit StatementCatalog(std::function<uint64_t()> nextId);
    StatementRef intern(std::string_view query, std::string_view paramTypes);
    // The statement with this content, if some client or server holds it.
    StatementRef find(std::string_view query, std::string_view paramTypes) const;
    size_t size() const { return byContent_->size(); }

private:
    using Map = std::unordered_map<std::string, std::weak_ptr<const Statement>>;
    static std::string keyOf(std::string_view query, std::string_view paramTypes);
    std::function<uint64_t()> nextId_;
    std::shared_ptr<Map> byContent_;  // shared with the statements' deleters
};

// What one server connection has prepared, least recently used first to go.
class ServerStatements {
public:
    bool contains(const Statement& statement) const { return index_.count(statement.id) != 0; }
    void touch(const Statement& statement);
    // Adds a statement; when that makes more than `capacity`, returns the least recently used
    // one, which the caller must close on the server.
    StatementRef add(StatementRef statement, size_t capacity);
    void remove(const Statement& statement);
    void clear();
    size_t size() const { return index_.size(); }

private:
    std::list<StatementRef> lru_;  // most recently used at the back
    std::unordered_map<uint64_t, std::list<StatementRef>::iterator> index_;
};

// A client's statements by the names it gave them.
using ClientStatements = std::unordered_map<std::string, StatementRef>;

// A client between transactions sends Parse … Sync (libpq's PQprepare): when every statement is
// one a server has accepted before, the pooler answers it itself (ParseComplete …
// ReadyForQuery) without taking a server — so a client preparing while every server is busy
// does not wait, and cannot deadlock a driver that prepares synchronously (pgbench -M prepared
// with more clients than servers). Returns how many bytes of `data` it answered (0: it did not;
// then the messages go to a server as usual); the answer is appended to `toClient`.
size_t answerParsesLocally(const uint8_t* data, size_t size, const StatementCatalog& catalog,
                           ClientStatements& client, std::string& toClient, uint64_t& parses);

// The relay between one client and the server it is linked to.
class PreparedRelay {
public:
    // Parse and Bind counts go to `stats` (SHOW STATS).
    PreparedRelay(StatementCatalog& catalog, ServerStatements& server, size_t capacity, pool::PoolStats& stats)
        : catalog_(catalog), server_(server), capacity_(capacity), counts_(stats) {}

    // ---- client → server ----
    // Rewritten: what the server must get instead is in `toServer` (possibly nothing);
    // Unchanged: the message goes to the server as it came, without a copy; Malformed: refused.
    enum class Outcome { Rewritten, Unchanged, Malformed };
    // Whether a client message of this type is rewritten (then it is passed whole to
    // fromClient); anything else is forwarded unchanged and reported to forwarded().
    static bool rewrites(char type) { return type == 'P' || type == 'B' || type == 'D' || type == 'C'; }
    // Whether a simple Query whose text starts with these bytes may be PREPARE, EXECUTE or
    // DEALLOCATE (then it is passed whole to fromClientQuery): yes, no, or more bytes needed.
    enum class Maybe { No, Yes, NeedMore };
    static Maybe mayBePreparedSql(const uint8_t* text, size_t available);
    // A simple Query naming prepared statements in SQL: PREPARE, EXECUTE and DEALLOCATE keep the
    // client's names as the protocol-level ones do; anything else goes as it is. `status`: the
    // server's transaction status (in a failed transaction the server answers, as it would).
    Outcome fromClientQuery(const uint8_t* body, size_t size, char status, ClientStatements& client,
                            std::string& toServer);
    // One whole Parse, Bind, Describe or Close (Unchanged: the unnamed statement, a portal, an
    // unknown name).
    Outcome fromClient(char type, const uint8_t* body, size_t size, ClientStatements& client, std::string& toServer);
    // A message sent to the server unchanged.
    void forwarded(char type);

    // ---- server → client ----
    enum class Verdict { Forward, Swallow };
    // One message from the server (`body` whole for ErrorResponse and CommandComplete, else may
    // be null). The answers due before it (takeDue) must have gone first.
    Verdict fromServer(char type, const uint8_t* body, size_t size, ClientStatements& client);
    // Answers the pooler owes now (nothing of the server's comes before them): appended to
    // `toClient`, with the status of each ReadyForQuery among them in `readies`.
    bool hasDue() const;
    void takeDue(std::string& toClient, std::vector<char>& readies);
    bool idle() const { return expected_.empty(); }
    void reset() { expected_.clear(); }
    void setCapacity(size_t capacity) { capacity_ = capacity; }

private:
    enum class Reply : uint8_t { Server, Pooler, Swallow };
    struct Expected {
        Expected(char requestType, Reply replyBy) : request(requestType), reply(replyBy) {}
        char request;  // the frontend message type
        Reply reply;
        std::string answer;           // Reply::Pooler: the bytes the pooler answers with
        char ready = 0;               // …and the status of the ReadyForQuery among them, if any
        bool failed = false;          // a Query's ErrorResponse came: undone when it completes
        char kind = 0;                // Describe: 'S' or 'P'
        bool sawParameters = false;   // Describe 'S': ParameterDescription came, its row description is next
        StatementRef parsed;          // a Parse sent to the server: forgotten there if it is not done
        std::string clientName;       // a name this Parse gave the client: forgotten if it fails
    };

    // The statement on the server, preparing it first when it is not there (a Parse, or for a
    // statement prepared in SQL a PREPARE query), whose answer is swallowed.
    void ensureOnServer(const StatementRef& statement, std::string& toServer);
    // The pooler answers a simple Query itself: `answer` (a CommandComplete or an error) and a
    // ReadyForQuery.
    void answerQuery(std::string answer, char status);
    void popAnswered(ClientStatements& client);
    // After an error in an extended-protocol batch the server skips to the next Sync.
    void skipToSync(ClientStatements& client);
    void undo(const Expected& expected, ClientStatements& client);

    StatementCatalog& catalog_;
    ServerStatements& server_;
    size_t capacity_;
    std::deque<Expected> expected_;
    pool::PoolStats& counts_;
};

}  // namespace sluice::conn
