#include "conn/prepared_statements.h"

#include "proto/builders.h"
#include "proto/codes.h"
#include "proto/extended.h"
#include "proto/header.h"
#include "proto/parse.h"
#include "proto/sql_words.h"

#include <cctype>
#include <cstring>
#include <iterator>

namespace sluice::conn {

namespace {

// An ErrorResponse as PostgreSQL words it, for the errors the pooler answers in its place.
std::string errorResponse(std::string_view sqlstate, const std::string& message) {
    std::string out;
    proto::appendErrorResponse(out, "ERROR", sqlstate, message);
    return out;
}

bool isExtended(char request) {
    return request == proto::msg::kParse || request == proto::msg::kBind || request == proto::msg::kDescribe ||
           request == proto::msg::kExecute || request == proto::msg::kClose;
}

// "cached plan must not change result type": DDL changed what a prepared statement returns.
// The routine names it whatever the server's language; the message, for servers that omit it.
bool planIsStale(const uint8_t* body, size_t size) {
    proto::ErrorFields fields;
    return proto::parseErrorOrNotice(body, size, fields) && fields.sqlstate == "0A000" &&
           (fields.routine == "RevalidateCachedQuery" || fields.message == "cached plan must not change result type");
}

void appendMessage(std::string& out, char type, const uint8_t* body, size_t size) {
    out.push_back(type);
    const uint32_t length = static_cast<uint32_t>(size + 4);
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((length >> shift) & 0xff));
    out.append(reinterpret_cast<const char*>(body), size);
}

// A CommandComplete after which the server holds no prepared statement at all.
bool forgetsEveryStatement(const uint8_t* body, size_t size) {
    const std::string_view tag(reinterpret_cast<const char*>(body), size);
    return tag.starts_with("DISCARD ALL") || tag.starts_with("DEALLOCATE ALL");
}

}  // namespace

StatementCatalog::StatementCatalog(std::function<uint64_t()> nextId)
    : nextId_(std::move(nextId)), entries_(std::make_shared<Entries>()) {}

std::string StatementCatalog::keyOf(std::string_view query, std::string_view paramTypes) {
    std::string key;
    key.reserve(query.size() + 1 + paramTypes.size());
    key.append(query).push_back('\0');
    key.append(paramTypes);
    return key;
}

size_t StatementCatalog::size() const {
    std::lock_guard lock(entries_->mutex);
    return entries_->byContent.size();
}

StatementRef StatementCatalog::find(std::string_view query, std::string_view paramTypes) const {
    const std::string key = keyOf(query, paramTypes);
    std::lock_guard lock(entries_->mutex);
    auto it = entries_->byContent.find(key);
    return it == entries_->byContent.end() ? nullptr : it->second.lock();
}

StatementRef StatementCatalog::intern(std::string_view query, std::string_view paramTypes) {
    std::string key = keyOf(query, paramTypes);
    std::lock_guard lock(entries_->mutex);
    auto& slot = entries_->byContent[key];
    if (StatementRef existing = slot.lock()) return existing;
    auto* statement = new Statement;
    statement->id = nextId_();
    statement->serverName = "sluice_" + std::to_string(statement->id);
    statement->query = std::string(query);
    statement->paramTypes = std::string(paramTypes);
    // The last holder, on whichever worker, takes the entry out of the catalog (which it keeps
    // alive till then).
    StatementRef ref(statement, [entries = entries_, key](const Statement* gone) {
        {
            std::lock_guard lock(entries->mutex);
            auto it = entries->byContent.find(key);
            if (it != entries->byContent.end() && it->second.expired()) entries->byContent.erase(it);
        }
        delete gone;
    });
    slot = ref;
    return ref;
}

size_t answerParsesLocally(const uint8_t* data, size_t size, const StatementCatalog& catalog,
                           ClientStatements& client, std::string& toClient, uint64_t& parses) {
    std::vector<std::pair<std::string_view, StatementRef>> named;
    size_t pos = 0;
    while (true) {
        auto header = proto::peekHeader(data + pos, size - pos);
        if (!header || size - pos < header->totalSize()) return 0;
        const uint8_t* body = data + pos + proto::kHeaderSize;
        pos += header->totalSize();
        if (header->type == proto::msg::kSync) break;
        proto::ParseMessage parse;
        if (header->type != proto::msg::kParse || !proto::parseParse(body, header->bodySize(), parse) ||
            parse.name.empty())
            return 0;
        StatementRef statement = catalog.find(parse.query, parse.paramTypes);
        // A name the client has already gets PostgreSQL's error, which the relay gives.
        if (!statement || !statement->verified || client.count(std::string(parse.name))) return 0;
        for (const auto& earlier : named)
            if (earlier.first == parse.name) return 0;
        named.emplace_back(parse.name, std::move(statement));
    }
    if (named.empty()) return 0;
    for (auto& [name, statement] : named) {
        client.emplace(std::string(name), std::move(statement));
        proto::appendParseComplete(toClient);
        ++parses;
    }
    proto::appendReadyForQuery(toClient, 'I');
    return pos;
}

void ServerStatements::touch(const Statement& statement) {
    auto it = index_.find(statement.id);
    if (it != index_.end()) lru_.splice(lru_.end(), lru_, it->second);
}

std::vector<StatementRef> ServerStatements::add(StatementRef statement, size_t capacity) {
    const uint64_t id = statement->id;
    index_[id] = lru_.insert(lru_.end(), std::move(statement));
    std::vector<StatementRef> evicted;
    // More than one when max_prepared_statements was lowered by a reload (as PgBouncer: the
    // server comes down to the new limit at its next statement). The new one is last to go.
    while (capacity != 0 && index_.size() > capacity) {
        evicted.push_back(std::move(lru_.front()));
        lru_.pop_front();
        index_.erase(evicted.back()->id);
        stale_.erase(evicted.back()->id);
    }
    return evicted;
}

void ServerStatements::markStale(const Statement& statement) {
    if (index_.count(statement.id)) stale_.insert(statement.id);
}

void ServerStatements::remove(const Statement& statement) {
    auto it = index_.find(statement.id);
    if (it == index_.end()) return;
    lru_.erase(it->second);
    index_.erase(it);
    stale_.erase(statement.id);
}

void ServerStatements::clear() {
    lru_.clear();
    index_.clear();
    stale_.clear();
}

void PreparedRelay::reset() {
    expected_.clear();
    status_ = 'I';
    portalsMade_ = false;
    skipping_ = false;
    stopRecording();
    if (replay_.statement || replay_.due || !replay_.bytes.empty() || !replay_.requests.empty())
        replay_ = Replay{};  // rare: every transaction comes here, almost none replays
    unnamedDeallocate_.reset();
    deallocatePortal_.reset();
}

void PreparedRelay::closeOnServer(const Statement& statement, bool bySql, std::string& toServer) {
    if (bySql) {
        proto::appendQuery(toServer, "DEALLOCATE " + statement.serverName);
        expected_.push_back({proto::msg::kQuery, Reply::Swallow});
    } else {
        proto::appendClose(toServer, 'S', statement.serverName);
        expected_.push_back({proto::msg::kClose, Reply::Swallow});
    }
}

void PreparedRelay::ensureOnServer(const StatementRef& statement, std::string& toServer) {
    if (server_.contains(*statement)) {
        server_.touch(*statement);
        return;
    }
    if (server_.isStale(*statement)) {
        closeOnServer(*statement, statement->isSql(), toServer);
        server_.remove(*statement);
    }
    for (const StatementRef& evicted : server_.add(statement, capacity_))
        closeOnServer(*evicted, statement->isSql(), toServer);
    ++counts_.serverParses;
    if (statement->isSql()) {
        proto::appendQuery(toServer, "PREPARE " + statement->serverName + " " + statement->query);
        Expected prepare{proto::msg::kQuery, Reply::Swallow};
        prepare.parsed = statement;
        expected_.push_back(std::move(prepare));
        return;
    }
    proto::appendParse(toServer, statement->serverName, statement->query, statement->paramTypes);
    Expected parse{proto::msg::kParse, Reply::Swallow};
    parse.parsed = statement;
    expected_.push_back(std::move(parse));
}

void PreparedRelay::answerQuery(std::string answer, char status) {
    Expected reply{proto::msg::kQuery, Reply::Pooler};
    proto::appendReadyForQuery(answer, status);
    reply.answer = std::move(answer);
    reply.ready = status;
    expected_.push_back(std::move(reply));
}

PreparedRelay::Maybe PreparedRelay::mayBePreparedSql(const uint8_t* text, size_t available) {
    size_t i = 0;
    while (i < available && std::isspace(text[i])) ++i;
    if (i == available) return available > 256 ? Maybe::No : Maybe::NeedMore;
    switch (std::tolower(text[i])) {
        case 'p':
        case 'e':
        case 'd': return Maybe::Yes;  // the recogniser decides; other queries never come here
        default: return Maybe::No;
    }
}

PreparedRelay::Outcome PreparedRelay::fromClientQuery(const uint8_t* body, size_t size, char status,
                                                      ClientStatements& client, std::string& toServer) {
    if (skipping_) return Outcome::Unchanged;  // the server ignores it, waiting for a Sync
    unnamedDeallocate_.reset();                 // a simple Query replaces the unnamed statement
    // A query inside a recorded extended batch: that batch cannot be replayed.
    if (recording_.state == Recording::Open) stopRecording();
    else if (recording_.state == Recording::Complete) recording_.followed = true;
    std::string_view sql;
    auto command = status == 'E' || !proto::parseQuery(body, size, sql) ? std::nullopt
                                                                         : proto::recognisePreparedSql(sql);
    auto done = [](std::string_view tag) {
        std::string out;
        proto::appendCommandComplete(out, tag);
        return out;
    };
    const char failedStatus = status == 'T' ? 'E' : status;  // an error inside a block fails it
    if (command) {
        using Kind = proto::PreparedSql::Kind;
        switch (command->kind) {
            case Kind::Prepare: {
                if (client.count(command->name)) {
                    answerQuery(errorResponse("42P05", "prepared statement \"" + command->name + "\" already exists"),
                                failedStatus);
                    return Outcome::Rewritten;
                }
                ++counts_.clientParses;
                StatementRef statement = catalog_.intern(command->rest, kSqlStatement);
                client.emplace(command->name, statement);
                if (server_.contains(*statement) && statement->verified) {
                    server_.touch(*statement);
                    answerQuery(done("PREPARE"), status);
                    return Outcome::Rewritten;
                }
                // Not verified: prepared again, for its errors (stale: closed first, by ensureOnServer).
                if (!server_.isStale(*statement)) server_.remove(*statement);
                ensureOnServer(statement, toServer);
                expected_.back().reply = Reply::Server;  // the client's PREPARE: its answer
                expected_.back().clientName = command->name;
                return Outcome::Rewritten;
            }
            case Kind::Execute: {
                auto it = client.find(command->name);
                if (it == client.end() || !it->second->isSql()) break;  // the server says what PostgreSQL would
                ensureOnServer(it->second, toServer);
                const size_t executeAt = toServer.size();
                proto::appendQuery(toServer, "EXECUTE " + it->second->serverName + std::string(command->rest));
                Expected execute{proto::msg::kQuery, Reply::Server};
                execute.bound = it->second;
                expected_.push_back(std::move(execute));
                record(toServer, executeAt);
                return Outcome::Rewritten;
            }
            case Kind::Deallocate:
                if (!client.erase(command->name)) {
                    answerQuery(errorResponse("26000", "prepared statement \"" + command->name + "\" does not exist"),
                                failedStatus);
                    return Outcome::Rewritten;
                }
                answerQuery(done("DEALLOCATE"), status);  // the server keeps it for others
                return Outcome::Rewritten;
            case Kind::DeallocateAll:
                client.clear();
                answerQuery(done("DEALLOCATE ALL"), status);
                return Outcome::Rewritten;
        }
    }
    expected_.push_back({proto::msg::kQuery, Reply::Server});
    return Outcome::Unchanged;
}

PreparedRelay::Outcome PreparedRelay::fromClient(char type, const uint8_t* body, size_t size,
                                                 ClientStatements& client, std::string& toServer) {
    if (skipping_) {  // after an error the server ignores everything up to the client's Sync
        forwarded(type);
        return Outcome::Unchanged;
    }
    size_t batchStart = std::string::npos;
    const Outcome outcome = rewrite(type, body, size, client, toServer, batchStart);
    if (outcome == Outcome::Rewritten) {
        record(toServer, batchStart);
    } else if (outcome == Outcome::Unchanged && recording_.state != Recording::None) {
        std::string message;
        appendMessage(message, type, body, size);
        record(message, std::string::npos);
    }
    return outcome;
}

PreparedRelay::Outcome PreparedRelay::rewriteDeallocate(char type, const uint8_t* body, size_t size,
                                                        ClientStatements& client, std::string& toServer) {
    // Only a Parse can start a DEALLOCATE: without one pending, a Bind or Describe (every
    // transaction of a prepared-statement client) is not read twice.
    if (type != proto::msg::kParse && !unnamedDeallocate_ && !deallocatePortal_) return Outcome::Unchanged;
    switch (type) {
        case proto::msg::kParse: {
            proto::ParseMessage parse;
            if (!proto::parseParse(body, size, parse) || !parse.name.empty()) return Outcome::Unchanged;
            unnamedDeallocate_.reset();  // the new unnamed statement replaces the old
            // In a failed transaction the server answers, as it would.
            const size_t start = parse.query.find_first_not_of(" \t\r\n\f");
            if (status_ == 'E' || start == std::string_view::npos || std::tolower(parse.query[start]) != 'd')
                return Outcome::Unchanged;
            using Kind = proto::PreparedSql::Kind;
            auto command = proto::recognisePreparedSql(parse.query);
            if (!command || (command->kind != Kind::Deallocate && command->kind != Kind::DeallocateAll))
                return Outcome::Unchanged;
            unnamedDeallocate_ = Deallocation{command->kind == Kind::DeallocateAll, command->name};
            expected_.push_back({proto::msg::kParse, Reply::Pooler});
            return Outcome::Rewritten;
        }
        case proto::msg::kBind: {
            proto::BindNames bind;
            if (!proto::parseBind(body, size, bind)) return Outcome::Unchanged;
            if (deallocatePortal_ && deallocatePortal_->portal == bind.portal) deallocatePortal_.reset();
            if (!bind.statement.empty() || !unnamedDeallocate_) return Outcome::Unchanged;
            deallocatePortal_ = DeallocatePortal{std::string(bind.portal), *unnamedDeallocate_};
            Expected answer{proto::msg::kBind, Reply::Pooler};
            appendMessage(answer.answer, proto::msg::kBindComplete, nullptr, 0);
            expected_.push_back(std::move(answer));
            return Outcome::Rewritten;
        }
        case proto::msg::kDescribe: {
            char kind = 0;
            std::string_view name;
            if (!proto::parseDescribeOrClose(body, size, kind, name)) return Outcome::Unchanged;
            const bool statement = kind == 'S' && name.empty() && unnamedDeallocate_;
            const bool portal = kind == 'P' && deallocatePortal_ && deallocatePortal_->portal == name;
            if (!statement && !portal) return Outcome::Unchanged;
            Expected answer{proto::msg::kDescribe, Reply::Pooler};
            static constexpr uint8_t kNoParameters[2] = {0, 0};
            if (statement) appendMessage(answer.answer, proto::msg::kParameterDescription, kNoParameters, 2);
            appendMessage(answer.answer, proto::msg::kNoData, nullptr, 0);
            expected_.push_back(std::move(answer));
            return Outcome::Rewritten;
        }
        case proto::msg::kExecute: {
            const void* end = size == 0 ? nullptr : std::memchr(body, 0, size);
            if (!deallocatePortal_ || !end ||
                std::string_view(reinterpret_cast<const char*>(body), static_cast<const uint8_t*>(end) - body) !=
                    deallocatePortal_->portal)
                return Outcome::Unchanged;
            const Deallocation what = std::move(deallocatePortal_->what);
            deallocatePortal_.reset();
            // The server keeps the statements for others (DEALLOCATE ALL sent on would empty it
            // for every client: psycopg sends one after each ROLLBACK). If an error before it
            // makes the server skip this Execute, the client keeps its names (undo).
            Expected answer{proto::msg::kExecute, Reply::Pooler};
            answer.forgotten = std::make_unique<ClientStatements>();
            if (what.all) {
                answer.forgotten->swap(client);
                proto::appendCommandComplete(answer.answer, "DEALLOCATE ALL");
            } else {
                auto it = client.find(what.name);
                if (it == client.end()) {  // PostgreSQL's error, and the batch fails as there
                    refuse(errorResponse("26000", "prepared statement \"" + what.name + "\" does not exist"), toServer);
                    return Outcome::Rewritten;
                }
                answer.forgotten->insert(client.extract(it));
                proto::appendCommandComplete(answer.answer, "DEALLOCATE");
            }
            expected_.push_back(std::move(answer));
            return Outcome::Rewritten;
        }
        default: return Outcome::Unchanged;
    }
}

PreparedRelay::Outcome PreparedRelay::rewrite(char type, const uint8_t* body, size_t size, ClientStatements& client,
                                              std::string& toServer, size_t& batchStart) {
    if (type == proto::msg::kParse || type == proto::msg::kBind || type == proto::msg::kDescribe ||
        type == proto::msg::kExecute) {
        if (rewriteDeallocate(type, body, size, client, toServer) == Outcome::Rewritten) return Outcome::Rewritten;
    }
    switch (type) {
        case proto::msg::kParse: {
            proto::ParseMessage parse;
            if (!proto::parseParse(body, size, parse)) return Outcome::Malformed;
            if (parse.name.empty()) break;  // the unnamed statement lives on the server only
            ++counts_.clientParses;
            std::string name(parse.name);
            auto [slot, fresh] = client.try_emplace(name);
            if (!fresh) {  // PostgreSQL's error; the client's statement stays as it was
                refuse(errorResponse("42P05", "prepared statement \"" + name + "\" already exists"), toServer);
                return Outcome::Rewritten;
            }
            StatementRef statement = slot->second = catalog_.intern(parse.query, parse.paramTypes);
            if (server_.contains(*statement)) {
                server_.touch(*statement);
                Expected answer{proto::msg::kParse, Reply::Pooler};
                answer.clientName = std::move(name);
                answer.parsed = statement;
                expected_.push_back(std::move(answer));
                return Outcome::Rewritten;
            }
            ensureOnServer(statement, toServer);
            // The server's ParseComplete answers the client's Parse.
            expected_.back().reply = Reply::Server;
            expected_.back().clientName = std::move(name);
            return Outcome::Rewritten;
        }
        case proto::msg::kBind: {
            proto::BindNames bind;
            if (!proto::parseBind(body, size, bind)) return Outcome::Malformed;
            if (!bind.statement.empty()) ++counts_.binds;  // PgBouncer counts Binds of named statements
            // An unknown name goes as it is: the server answers 26000 as PostgreSQL would. So
            // does a statement prepared in SQL (preparing it in an extended batch would take a
            // query in the middle of the batch): it works on the server that has it.
            auto it = bind.statement.empty() ? client.end() : client.find(std::string(bind.statement));
            if (it == client.end() || it->second->isSql()) break;
            ensureOnServer(it->second, toServer);
            batchStart = toServer.size();
            proto::appendBind(toServer, bind.portal, it->second->serverName, bind.rest);
            Expected bindRequest{proto::msg::kBind, Reply::Server};
            bindRequest.bound = it->second;
            expected_.push_back(std::move(bindRequest));
            return Outcome::Rewritten;
        }
        case proto::msg::kDescribe: {
            char kind = 0;
            std::string_view name;
            if (!proto::parseDescribeOrClose(body, size, kind, name)) return Outcome::Malformed;
            auto it = kind != 'S' || name.empty() ? client.end() : client.find(std::string(name));
            const bool ours = it != client.end() && !it->second->isSql();
            if (ours) {
                ensureOnServer(it->second, toServer);
                proto::appendDescribe(toServer, 'S', it->second->serverName);
            }
            Expected describe{proto::msg::kDescribe, Reply::Server};
            describe.kind = kind;
            expected_.push_back(std::move(describe));
            return ours ? Outcome::Rewritten : Outcome::Unchanged;
        }
        case proto::msg::kClose: {
            char kind = 0;
            std::string_view name;
            if (!proto::parseDescribeOrClose(body, size, kind, name)) return Outcome::Malformed;
            if (kind != 'S' || name.empty()) break;
            // The server keeps it (another client may use the same text); closing a name that
            // does not exist is no error in PostgreSQL either.
            client.erase(std::string(name));
            expected_.push_back({proto::msg::kClose, Reply::Pooler});
            return Outcome::Rewritten;
        }
        case proto::msg::kExecute:
        case proto::msg::kSync:
        case proto::msg::kFlush:  // read whole only to be recorded
            queue(type);
            return Outcome::Unchanged;
        default: return Outcome::Malformed;
    }
    expected_.push_back({type, Reply::Server});
    return Outcome::Unchanged;  // the caller streams it as it came
}

void PreparedRelay::refuse(std::string error, std::string& toServer) {
    if (skipping_) return;  // the server ignores the batch's rest already
    if (recording_.state == Recording::Open) stopRecording();
    else if (recording_.state == Recording::Complete) recording_.followed = true;
    proto::appendBind(toServer, "", "sluice_refused", std::string_view("\0\0\0\0\0\0", 6));  // no name the pooler makes
    Expected refusal{proto::msg::kBind, Reply::Swallow};
    refusal.answer = std::move(error);
    expected_.push_back(std::move(refusal));
}

void PreparedRelay::forwarded(char type) {
    if (skipping_) {  // the server ignores everything up to the client's Sync
        if (type != proto::msg::kSync) return;
        skipping_ = false;
    }
    queue(type);
    if (type == proto::msg::kQuery) unnamedDeallocate_.reset();  // it replaces the unnamed statement
    // Not Execute, Sync or Flush of an open recording (those come whole): a query, a function
    // call, COPY data — not replayed.
    if (recording_.state == Recording::Open) stopRecording();
    else if (recording_.state == Recording::Complete) recording_.followed = true;
}

void PreparedRelay::queue(char type) {
    switch (type) {
        case proto::msg::kQuery:
        case proto::msg::kFunctionCall:
        case proto::msg::kSync:
        case proto::msg::kExecute:
        case proto::msg::kFlush: expected_.push_back({type, Reply::Server}); break;
        default: break;  // CopyData, CopyDone, CopyFail belong to a request already queued
    }
}

void PreparedRelay::record(std::string_view sent, size_t batchStart) {
    switch (recording_.state) {
        case Recording::Complete: recording_.followed = true; return;
        case Recording::None:
            // Inside a transaction block a failed batch fails the block: never replayed.
            if (batchStart == std::string::npos || status_ != 'I') return;
            recording_.state = Recording::Open;
            expected_.back().recording = ++recording_.id;
            sent.remove_prefix(batchStart);
            break;
        case Recording::Open: break;
    }
    if (recording_.bytes.size() + sent.size() > kMaxRecording) {
        stopRecording();
        return;
    }
    recording_.bytes.append(sent);
    const char last = expected_.back().request;
    if (last == proto::msg::kSync || last == proto::msg::kQuery) recording_.state = Recording::Complete;
}

void PreparedRelay::stopRecording() {
    recording_.state = Recording::None;
    recording_.followed = false;
    recording_.bytes.clear();
}

bool PreparedRelay::replayStalePlan() {
    Expected& head = expected_.front();
    // Only the batch's own first request of a pooled statement, the whole batch recorded and
    // nothing sent after it; the server was outside a transaction block and nothing of the
    // batch ran yet (so nothing reached the client but ParseCompletes, which are not repeated).
    if (head.recording != recording_.id || recording_.state != Recording::Complete || recording_.followed ||
        status_ != 'I' || portalsMade_)
        return false;
    const char last = expected_.back().request;  // the batch's Sync, or the EXECUTE query itself
    head.recording = 0;                            // replayed once, never again
    replay_.statement = head.bound;
    replay_.bytes = std::move(recording_.bytes);
    replay_.requests.assign(std::make_move_iterator(expected_.begin()), std::make_move_iterator(expected_.end()));
    expected_.clear();
    stopRecording();
    Expected wait{last, Reply::Swallow};  // the rest of the failed batch's answer, up to its ReadyForQuery
    wait.replayAfter = true;
    expected_.push_back(std::move(wait));
    return true;
}

bool PreparedRelay::takeReplay(std::string& toServer) {
    if (!replay_.due) return false;
    ensureOnServer(replay_.statement, toServer);  // stale: closed and prepared again
    toServer += replay_.bytes;
    for (auto& request : replay_.requests) expected_.push_back(std::move(request));
    replay_ = Replay{};
    return true;
}

void PreparedRelay::popFront() {
    if (expected_.front().recording == recording_.id) stopRecording();  // answered: no replay
    expected_.pop_front();
}

bool PreparedRelay::hasDue() const {
    return !expected_.empty() &&
           (expected_.front().reply == Reply::Pooler || expected_.front().request == proto::msg::kFlush);
}

void PreparedRelay::takeDue(std::string& toClient, std::vector<char>& readies) {
    while (hasDue()) {
        const Expected& head = expected_.front();
        if (head.reply == Reply::Pooler) {
            if (!head.answer.empty()) toClient += head.answer;
            else if (head.request == proto::msg::kParse) proto::appendParseComplete(toClient);
            else proto::appendCloseComplete(toClient);
            if (head.ready) readies.push_back(head.ready);
        }
        popFront();
    }
}

void PreparedRelay::undo(const Expected& expected, ClientStatements& client) {
    if (expected.forgotten) {  // a DEALLOCATE the server skipped never ran
        for (auto& [name, statement] : *expected.forgotten) client.emplace(name, statement);
        return;
    }
    if (expected.parsed && expected.reply != Reply::Pooler) server_.remove(*expected.parsed);
    if (!expected.clientName.empty()) {
        auto it = client.find(expected.clientName);
        if (it != client.end() && it->second == expected.parsed) client.erase(it);
    }
}

void PreparedRelay::skipToSync(ClientStatements& client) {
    while (!expected_.empty() && expected_.front().request != proto::msg::kSync) {
        undo(expected_.front(), client);
        popFront();
    }
}

PreparedRelay::Verdict PreparedRelay::fromServer(char type, const uint8_t* body, size_t size,
                                                 ClientStatements& client) {
    if (type == proto::msg::kReadyForQuery && body && size == 1) {
        status_ = static_cast<char>(body[0]);
        portalsMade_ = false;
    }
    // Notices, parameter changes and notifications answer no request.
    if (type == proto::msg::kNoticeResponse || type == proto::msg::kParameterStatus ||
        type == proto::msg::kNotificationResponse || expected_.empty())
        return Verdict::Forward;
    Expected& head = expected_.front();
    if (type == proto::msg::kErrorResponse) {
        if (head.bound && body && planIsStale(body, size)) {
            server_.markStale(*head.bound);  // closed and prepared again before its next use
            if (replayStalePlan()) return Verdict::Swallow;
        }
        // In a simple query or a function call the error is part of the answer (the client sees
        // it even when the query was the pooler's: it explains what comes next); in an
        // extended-protocol batch it ends the request and the server skips to the next Sync.
        if (!isExtended(head.request)) {
            head.failed = true;
            return Verdict::Forward;
        }
        // A refusal: the pooler's error goes to the client in place of the server's.
        std::string replacement = head.reply == Reply::Swallow ? std::move(head.answer) : std::string();
        undo(head, client);
        popFront();
        skipToSync(client);
        skipping_ = expected_.empty();  // the client's Sync is still to come
        if (replacement.empty()) return Verdict::Forward;
        Expected instead{proto::msg::kBind, Reply::Pooler};
        instead.answer = std::move(replacement);
        expected_.push_front(std::move(instead));
        return Verdict::Swallow;
    }
    bool answered = false;
    switch (head.request) {
        case proto::msg::kParse: answered = type == proto::msg::kParseComplete; break;
        case proto::msg::kBind: answered = type == proto::msg::kBindComplete; break;
        case proto::msg::kClose: answered = type == proto::msg::kCloseComplete; break;
        case proto::msg::kDescribe:
            if (head.kind == 'S' && type == proto::msg::kParameterDescription) {
                head.sawParameters = true;
                break;
            }
            answered = type == proto::msg::kRowDescription || type == proto::msg::kNoData;
            break;
        case proto::msg::kExecute:
            answered = type == proto::msg::kCommandComplete || type == proto::msg::kEmptyQueryResponse ||
                       type == proto::msg::kPortalSuspended;
            break;
        default: answered = type == proto::msg::kReadyForQuery; break;  // Sync, Query, FunctionCall
    }
    if (type == proto::msg::kCommandComplete && body && forgetsEveryStatement(body, size)) {
        // DISCARD ALL / DEALLOCATE ALL from the client: the server has none left, and the
        // client, on a direct connection, none of its own either.
        server_.clear();
        client.clear();
    }
    const bool swallow = head.reply == Reply::Swallow;  // every message of a request the pooler added
    if (!answered) return swallow ? Verdict::Swallow : Verdict::Forward;
    if (head.failed) undo(head, client);
    else if (head.parsed) head.parsed->verified = true;
    if (head.request == proto::msg::kBind || head.request == proto::msg::kExecute) portalsMade_ = true;
    if (head.replayAfter) replay_.due = true;
    popFront();
    return swallow ? Verdict::Swallow : Verdict::Forward;
}

}  // namespace sluice::conn
