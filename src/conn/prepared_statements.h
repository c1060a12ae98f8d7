// Named prepared statements in transaction and statement pooling (DESIGN §10), as PgBouncer
// 1.21+ does with max_prepared_statements: a client's statements live in the pooler, by the
// client's names; each server holds an LRU of statements under pooler-made names; Parse, Bind,
// Describe and Close are rewritten on the way to the server, and the answers the pooler makes
// itself (a ParseComplete for a statement the server already has, a CloseComplete) or swallows
// (for a Parse or Close it added) are put in the right place of the server's answer stream.
//
// Pure: the connections feed it messages and write what it returns; unit-tested without IO.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
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
    // (PostgreSQL would parse it again just the same, short of DDL in between). Set and read by
    // any worker.
    mutable std::atomic<bool> verified{false};
    bool isSql() const { return paramTypes == kSqlStatement; }
};
using StatementRef = std::shared_ptr<const Statement>;

// The process's statements by content: equal texts share one id and one server-side name, on
// every worker, so a server handed from one worker to another (DESIGN §3) serves the same names
// there. An entry lives as long as a client or a server holds it; a StatementRef may be released
// on any worker's thread. Locked: it is used per Parse a client sends, not per transaction.
class StatementCatalog {
public:
    explicit StatementCatalog(std::function<uint64_t()> nextId);
    StatementRef intern(std::string_view query, std::string_view paramTypes);
    // The statement with this content, if some client or server holds it.
    StatementRef find(std::string_view query, std::string_view paramTypes) const;
    size_t size() const;

private:
    struct Entries {
        std::mutex mutex;
        std::unordered_map<std::string, std::weak_ptr<const Statement>> byContent;
    };
    static std::string keyOf(std::string_view query, std::string_view paramTypes);
    std::function<uint64_t()> nextId_;
    std::shared_ptr<Entries> entries_;  // shared with the statements' deleters
};

// What one server connection has prepared, least recently used first to go.
class ServerStatements {
public:
    // Holds it, and its plan is not known to be stale.
    bool contains(const Statement& statement) const {
        return index_.count(statement.id) != 0 && !stale_.count(statement.id);
    }
    // Holds it, but DDL changed its result type ("cached plan must not change result type"):
    // it must be closed and prepared again before its next use.
    bool isStale(const Statement& statement) const { return stale_.count(statement.id) != 0; }
    void markStale(const Statement& statement);
    void touch(const Statement& statement);
    // Adds a statement; when that makes more than `capacity`, returns the least recently used
    // ones beyond it, which the caller must close on the server.
    std::vector<StatementRef> add(StatementRef statement, size_t capacity);
    void remove(const Statement& statement);
    void clear();
    size_t size() const { return index_.size(); }

private:
    std::list<StatementRef> lru_;  // most recently used at the back
    std::unordered_map<uint64_t, std::list<StatementRef>::iterator> index_;
    std::unordered_set<uint64_t> stale_;  // ids in index_ whose plan the server refused as stale
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
    // Whether a client message of this type goes whole to fromClient: Parse, Bind, Describe and
    // Close, which may be rewritten, and while a batch is recorded (for a stale plan) Execute,
    // Sync and Flush too. Anything else is forwarded unchanged and reported to forwarded().
    bool readsWhole(char type) const {
        return type == 'P' || type == 'B' || type == 'D' || type == 'C' ||
               (recording_.state == Recording::Open && (type == 'E' || type == 'S' || type == 'H')) ||
               (type == 'E' && deallocatePortal_);
    }
    // Whether a simple Query whose text starts with these bytes may be PREPARE, EXECUTE or
    // DEALLOCATE (then it is passed whole to fromClientQuery): yes, no, or more bytes needed.
    enum class Maybe { No, Yes, NeedMore };
    static Maybe mayBePreparedSql(const uint8_t* text, size_t available);
    // A simple Query naming prepared statements in SQL: PREPARE, EXECUTE and DEALLOCATE keep the
    // client's names as the protocol-level ones do; anything else goes as it is. `status`: the
    // server's transaction status (in a failed transaction the server answers, as it would).
    Outcome fromClientQuery(const uint8_t* body, size_t size, char status, ClientStatements& client,
                            std::string& toServer);
    // One whole message of a type readsWhole names (Unchanged: the unnamed statement, a portal,
    // an unknown name, an Execute, Sync or Flush).
    Outcome fromClient(char type, const uint8_t* body, size_t size, ClientStatements& client, std::string& toServer);
    // A client message the pooler refuses to hold (larger than max_packet_size): the server is
    // made to fail the batch with a Bind of a statement that does not exist, as PostgreSQL fails
    // a batch on an error, and the client gets `error` (a whole ErrorResponse) in place of the
    // server's. What goes to the server is appended to `toServer`.
    void refuse(std::string error, std::string& toServer);
    // A message sent to the server unchanged, not read whole.
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

    // ---- a stale plan, prepared again ----
    // The server refused a batch's first Bind (or an EXECUTE) of a pooled statement because DDL
    // changed its result type. When nothing of the batch has been executed and nothing else was
    // sent after it, the pooler swallows the error, and once the server is ready again sends the
    // statement's Close and Parse and the whole batch again: the client sees only the result.
    // Until then the client's next messages must wait (holdsClient); takeReplay gives the bytes
    // to send, once the server's answer to the failed batch has been swallowed.
    bool holdsClient() const { return replay_.statement != nullptr; }
    bool takeReplay(std::string& toServer);

    bool idle() const { return expected_.empty(); }
    void reset();
    void setCapacity(size_t capacity) { capacity_ = capacity; }

private:
    enum class Reply : uint8_t { Server, Pooler, Swallow };
    struct Expected {
        Expected(char requestType, Reply replyBy) : request(requestType), reply(replyBy) {}
        char request;  // the frontend message type
        Reply reply;
        std::string answer;           // Reply::Pooler: the bytes the pooler answers with; a refusal: its error
        char ready = 0;               // …and the status of the ReadyForQuery among them, if any
        bool failed = false;          // a Query's ErrorResponse came: undone when it completes
        char kind = 0;                // Describe: 'S' or 'P'
        bool sawParameters = false;   // Describe 'S': ParameterDescription came, its row description is next
        StatementRef parsed;          // a Parse sent to the server: forgotten there if it is not done
        std::string clientName;       // a name this Parse gave the client: forgotten if it fails
        StatementRef bound;           // a Bind or EXECUTE of a pooled statement: its plan may be stale
        uint32_t recording = 0;       // the recording (Recording::id) this request starts
        bool replayAfter = false;     // swallows a failed batch's answer; then the replay is due
        // An Execute of DEALLOCATE [ALL] the pooler answered: the client's names it forgot, given
        // back if the server skips it (an error earlier in the batch).
        std::unique_ptr<ClientStatements> forgotten;
    };

    // The bytes of a batch from its first Bind (or EXECUTE) of a pooled statement to its Sync,
    // kept until that Bind is answered, so that the batch can be sent again after a stale plan.
    struct Recording {
        enum State : uint8_t { None, Open, Complete };
        State state = None;
        uint32_t id = 0;
        bool followed = false;  // something was sent after the batch: it can no longer be replayed
        std::string bytes;
    };
    // DEALLOCATE in the extended protocol (psycopg 3 sends its so): a Parse of the unnamed
    // statement whose text is `DEALLOCATE name` or `DEALLOCATE ALL`, a Bind of it, the Execute
    // of that portal.
    struct Deallocation {
        bool all = false;
        std::string name;  // the client's statement it deallocates
    };
    struct DeallocatePortal {
        std::string portal;
        Deallocation what;
    };
    // The pooler's answers to such a batch: a Parse, Bind or Describe of the unnamed statement
    // or of its portal (Rewritten), or Unchanged when the message is not one of them.
    Outcome rewriteDeallocate(char type, const uint8_t* body, size_t size, ClientStatements& client,
                              std::string& toServer);

    // A batch the server failed with a stale plan, to send again.
    struct Replay {
        StatementRef statement;
        std::string bytes;
        // A vector, not a deque: reset() makes a new Replay after every transaction, and a
        // deque allocates even when empty.
        std::vector<Expected> requests;
        bool due = false;
    };
    static constexpr size_t kMaxRecording = 64 * 1024;  // a larger batch is not replayed

    // The statement on the server, preparing it first when it is not there (a Parse, or for a
    // statement prepared in SQL a PREPARE query), whose answer is swallowed.
    void ensureOnServer(const StatementRef& statement, std::string& toServer);
    // fromClient's work, before the recording: `batchStart` is where in `toServer` a Bind of a
    // pooled statement (which may start a recorded batch) begins.
    Outcome rewrite(char type, const uint8_t* body, size_t size, ClientStatements& client, std::string& toServer,
                    size_t& batchStart);
    // Closes a statement on the server, the answer swallowed: a Close in the client's extended
    // batch, a DEALLOCATE query before its simple Query (`bySql`; a Close there would open an
    // extended batch the Query does not end).
    void closeOnServer(const Statement& statement, bool bySql, std::string& toServer);
    // Adds what went to the server for the request just queued to the recording: `sent` belongs
    // to the open one, or starts one at `batchStart` (npos: it cannot).
    void record(std::string_view sent, size_t batchStart);
    void stopRecording();
    // Queues the request a forwarded message makes, if any.
    void queue(char type);
    // The error answering the head request says its plan is stale: set up the replay if it can be.
    bool replayStalePlan();
    void popFront();
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
    char status_ = 'I';        // the server's transaction status at its last ReadyForQuery
    // A Bind or Execute of the current batch was answered: the portal it made dies with a failed
    // batch, and a replay from a later request would not make it again.
    bool portalsMade_ = false;
    bool skipping_ = false;    // the server skips to a Sync the client has not sent yet
    Recording recording_;
    Replay replay_;
    std::optional<Deallocation> unnamedDeallocate_;  // what the unnamed statement is, if a DEALLOCATE
    std::optional<DeallocatePortal> deallocatePortal_;
};

}  // namespace sluice::conn
