#include "pq_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <regex>

namespace sluice::itest {

namespace {

using Clock = std::chrono::steady_clock;

struct ResultClearer {
    void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultClearer>;

std::string trimTrailingNewlines(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text;
}

// Verbose libpq messages carry "CODE: " after the severity and a LOCATION line; a person
// reading a failed assertion wants neither.
std::string humanMessage(const std::string& verbose) {
    static const std::regex code(R"(((?:FATAL|ERROR|PANIC|WARNING):  )[0-9A-Z]{5}: )");
    static const std::regex location(R"(\nLOCATION:  [^\n]*)");
    std::string text = std::regex_replace(verbose, code, "$1");
    text = std::regex_replace(text, location, "");
    return trimTrailingNewlines(text);
}

void collectNotice(void* arg, const PGresult* result) {
    auto* notices = static_cast<std::vector<std::string>*>(arg);
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    notices->push_back(primary ? primary : trimTrailingNewlines(PQresultErrorMessage(result)));
}

int remainingMs(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace

std::string conninfo(std::initializer_list<std::pair<std::string, std::string>> params) {
    std::string out;
    for (const auto& [key, value] : params) {
        if (value.empty()) continue;
        if (!out.empty()) out += ' ';
        out += key + "='";
        for (char c : value) {
            if (c == '\\' || c == '\'') out += '\\';
            out += c;
        }
        out += '\'';
    }
    return out;
}

std::string QueryResult::value(std::size_t row, std::size_t col) const {
    if (row >= rows.size() || col >= rows[row].size()) return "";
    return rows[row][col];
}

bool QueryResult::isNull(std::size_t row, std::size_t col) const {
    return row < nulls.size() && col < nulls[row].size() && nulls[row][col];
}

std::string QueryResult::describe() const {
    if (ok) return "ok";
    return (sqlstate.empty() ? std::string("(no SQLSTATE)") : sqlstate) + ": " + error;
}

std::string sqlstateFromVerboseMessage(const std::string& message) {
    static const std::regex code(R"((?:FATAL|ERROR|PANIC):  ([0-9A-Z]{5}): )");
    std::smatch match;
    if (std::regex_search(message, match, code)) return match[1].str();
    return "";
}

PqConn::PqConn(const std::string& conninfo, std::chrono::milliseconds timeout) { connect(conninfo, timeout); }

bool PqConn::isOk() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }

void PqConn::close() { conn_.reset(); }

void PqConn::failConnect(std::string message) {
    sqlstate_ = sqlstateFromVerboseMessage(message);
    error_ = humanMessage(message);
    conn_.reset();
}

bool PqConn::waitSocket(bool forWrite, Clock::time_point deadline) {
    pollfd pfd{};
    pfd.fd = PQsocket(conn_.get());
    if (pfd.fd < 0) return false;
    pfd.events = forWrite ? POLLOUT : POLLIN;
    for (;;) {
        int ready = ::poll(&pfd, 1, remainingMs(deadline));
        if (ready > 0) return true;
        if (ready == 0) return false;
        if (errno != EINTR) return false;
    }
}

bool PqConn::connect(const std::string& info, std::chrono::milliseconds timeout) {
    close();
    error_.clear();
    sqlstate_.clear();
    if (!notices_) notices_ = std::make_unique<std::vector<std::string>>();
    notices_->clear();

    conn_.reset(PQconnectStart(info.c_str()));
    if (!conn_) {
        error_ = "libpq could not allocate a connection";
        return false;
    }
    // A startup ErrorResponse only reaches us as text; verbose mode puts its SQLSTATE in it.
    PQsetErrorVerbosity(conn_.get(), PQERRORS_VERBOSE);
    if (PQstatus(conn_.get()) == CONNECTION_BAD) {
        failConnect(PQerrorMessage(conn_.get()));
        return false;
    }

    const auto deadline = Clock::now() + timeout;
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (state != PGRES_POLLING_OK) {
        if (state == PGRES_POLLING_FAILED) {
            failConnect(PQerrorMessage(conn_.get()));
            return false;
        }
        if (!waitSocket(state == PGRES_POLLING_WRITING, deadline)) {
            failConnect("timed out after " + std::to_string(timeout.count()) + " ms while connecting (" +
                        trimTrailingNewlines(PQerrorMessage(conn_.get())) + ")");
            return false;
        }
        state = PQconnectPoll(conn_.get());
    }
    PQsetErrorVerbosity(conn_.get(), PQERRORS_DEFAULT);
    PQsetNoticeReceiver(conn_.get(), collectNotice, notices_.get());
    return true;
}

bool PqConn::send(const std::string& sql) {
    if (!conn_) {
        error_ = "not connected";
        return false;
    }
    if (PQsendQuery(conn_.get(), sql.c_str()) == 0) {
        error_ = trimTrailingNewlines(PQerrorMessage(conn_.get()));
        return false;
    }
    return true;
}

QueryResult PqConn::collect(std::chrono::milliseconds timeout) {
    QueryResult out;
    bool failed = false;
    auto fail = [&](std::string sqlstate, std::string message, std::string detail = {}) {
        if (failed) return;  // the first error is the cause; later ones are consequences
        failed = true;
        out.sqlstate = std::move(sqlstate);
        out.error = std::move(message);
        out.detail = std::move(detail);
    };
    if (!conn_) {
        fail("", "not connected");
        return out;
    }
    PGconn* conn = conn_.get();
    const auto deadline = Clock::now() + timeout;
    auto timedOut = [&] {
        fail("", "no complete result within " + std::to_string(timeout.count()) +
                     " ms; connection closed because its state is unknown");
        close();
        return out;
    };
    // Waits until libpq has a whole result (or the connection broke); false on timeout.
    auto awaitResult = [&] {
        while (PQisBusy(conn)) {
            if (!waitSocket(false, deadline)) return false;
            if (PQconsumeInput(conn) == 0) break;  // broken: PQgetResult reports it
        }
        return true;
    };

    for (;;) {
        if (!awaitResult()) return timedOut();
        ResultPtr result(PQgetResult(conn));
        if (!result) break;
        switch (PQresultStatus(result.get())) {
            case PGRES_TUPLES_OK:
            case PGRES_SINGLE_TUPLE: {
                out.columns.clear();
                out.rows.clear();
                out.nulls.clear();
                int nfields = PQnfields(result.get());
                for (int c = 0; c < nfields; ++c) out.columns.emplace_back(PQfname(result.get(), c));
                for (int r = 0; r < PQntuples(result.get()); ++r) {
                    auto& row = out.rows.emplace_back();
                    auto& rowNulls = out.nulls.emplace_back();
                    for (int c = 0; c < nfields; ++c) {
                        row.emplace_back(PQgetvalue(result.get(), r, c));
                        rowNulls.push_back(PQgetisnull(result.get(), r, c) != 0);
                    }
                }
                out.commandTag = PQcmdStatus(result.get());
                break;
            }
            case PGRES_COMMAND_OK:
            case PGRES_EMPTY_QUERY:
                out.commandTag = PQcmdStatus(result.get());
                break;
            case PGRES_COPY_IN:
                // exec() has no data to send; ending the COPY with an error keeps the
                // connection usable and the server answers with an ErrorResponse.
                PQputCopyEnd(conn, "exec() sends no COPY data");
                break;
            case PGRES_COPY_OUT: {
                out.rows.clear();
                out.nulls.clear();
                for (;;) {
                    char* line = nullptr;
                    int n = PQgetCopyData(conn, &line, 1);
                    if (n > 0) {
                        out.rows.push_back({trimTrailingNewlines(std::string(line, static_cast<std::size_t>(n)))});
                        out.nulls.push_back({false});
                        PQfreemem(line);
                    } else if (n == 0) {
                        if (!waitSocket(false, deadline)) return timedOut();
                        if (PQconsumeInput(conn) == 0) break;
                    } else {
                        break;  // -1: done, -2: error; the next PQgetResult tells which
                    }
                }
                break;
            }
            case PGRES_COPY_BOTH:
                fail("", "exec() cannot run a COPY BOTH (replication) command");
                close();
                return out;
            default: {
                const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
                const char* primary = PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY);
                const char* detail = PQresultErrorField(result.get(), PG_DIAG_MESSAGE_DETAIL);
                fail(state ? state : "", primary ? primary : trimTrailingNewlines(PQresultErrorMessage(result.get())),
                     detail ? detail : "");
                break;
            }
        }
    }
    if (!failed && PQstatus(conn) == CONNECTION_BAD) fail("", trimTrailingNewlines(PQerrorMessage(conn)));
    out.ok = !failed;
    return out;
}

QueryResult PqConn::exec(const std::string& sql, std::chrono::milliseconds timeout) {
    if (!send(sql)) {
        QueryResult out;
        out.error = error_;
        return out;
    }
    return collect(timeout);
}

bool PqConn::cancel() {
    if (!conn_) {
        error_ = "not connected";
        return false;
    }
    std::unique_ptr<PGcancel, void (*)(PGcancel*)> handle(PQgetCancel(conn_.get()), PQfreeCancel);
    if (!handle) {
        error_ = "libpq has no cancel key for this connection";
        return false;
    }
    char buffer[256] = {};
    if (PQcancel(handle.get(), buffer, sizeof buffer) == 0) {
        error_ = buffer;
        return false;
    }
    return true;
}

int PqConn::backendPid() const { return conn_ ? PQbackendPID(conn_.get()) : 0; }

std::string PqConn::parameter(const std::string& name) const {
    if (!conn_) return "";
    const char* value = PQparameterStatus(conn_.get(), name.c_str());
    return value ? value : "";
}

long long elapsedMs(Clock::time_point since) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

bool waitFd(int fd, short events, Clock::time_point deadline) {
    pollfd pfd{fd, events, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    return ::poll(&pfd, 1, static_cast<int>(left)) > 0;
}

std::string copyIn(PGconn* conn, const std::string& table, const std::string& data, std::string* tag,
                   std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    auto nextResult = [&](PGresult** out) -> bool {
        while (PQisBusy(conn)) {
            if (!waitFd(PQsocket(conn), POLLIN, deadline)) return false;
            if (PQconsumeInput(conn) == 0) break;
        }
        *out = PQgetResult(conn);
        return true;
    };
    if (PQsendQuery(conn, ("COPY " + table + " FROM STDIN").c_str()) == 0) return PQerrorMessage(conn);
    PGresult* start = nullptr;
    if (!nextResult(&start)) return "timed out waiting for CopyInResponse";
    ExecStatusType status = PQresultStatus(start);
    PQclear(start);
    if (status != PGRES_COPY_IN) return std::string("expected COPY_IN, got ") + PQresStatus(status);

    PQsetnonblocking(conn, 1);
    const std::size_t chunk = 64 * 1024;
    for (std::size_t offset = 0; offset < data.size();) {
        std::size_t n = std::min(chunk, data.size() - offset);
        int rc = PQputCopyData(conn, data.data() + offset, static_cast<int>(n));
        if (rc < 0) return std::string("PQputCopyData: ") + PQerrorMessage(conn);
        if (rc == 0) {
            if (!waitFd(PQsocket(conn), POLLOUT, deadline)) return "timed out sending COPY data";
            continue;
        }
        offset += n;
    }
    for (;;) {
        int rc = PQputCopyEnd(conn, nullptr);
        if (rc < 0) return std::string("PQputCopyEnd: ") + PQerrorMessage(conn);
        if (rc == 1) break;
        if (!waitFd(PQsocket(conn), POLLOUT, deadline)) return "timed out ending COPY";
    }
    for (;;) {
        int rc = PQflush(conn);
        if (rc < 0) return std::string("PQflush: ") + PQerrorMessage(conn);
        if (rc == 0) break;
        if (!waitFd(PQsocket(conn), POLLOUT | POLLIN, deadline)) return "timed out flushing COPY data";
        PQconsumeInput(conn);
    }
    PQsetnonblocking(conn, 0);

    std::string failure;
    for (;;) {
        PGresult* result = nullptr;
        if (!nextResult(&result)) return "timed out waiting for the COPY result";
        if (result == nullptr) break;
        if (PQresultStatus(result) == PGRES_COMMAND_OK) {
            *tag = PQcmdStatus(result);
        } else if (failure.empty()) {
            failure = PQresultErrorMessage(result);
        }
        PQclear(result);
    }
    return failure;
}

std::string be32(uint32_t value) {
    std::string out(4, '\0');
    out[0] = static_cast<char>(value >> 24);
    out[1] = static_cast<char>(value >> 16);
    out[2] = static_cast<char>(value >> 8);
    out[3] = static_cast<char>(value);
    return out;
}

std::string be16(uint16_t value) {
    std::string out(2, '\0');
    out[0] = static_cast<char>(value >> 8);
    out[1] = static_cast<char>(value);
    return out;
}

uint32_t readBe32(const std::string& bytes, std::size_t at) {
    if (bytes.size() < at + 4) return 0;
    auto byte = [&](std::size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])); };
    return byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
}

std::string startupPacket(const std::vector<std::pair<std::string, std::string>>& params, uint32_t version) {
    std::string body = be32(version);
    for (const auto& [key, value] : params) body += key + '\0' + value + '\0';
    body += '\0';
    return be32(static_cast<uint32_t>(body.size() + 4)) + body;
}

std::string message(char type, const std::string& body) {
    return std::string(1, type) + be32(static_cast<uint32_t>(body.size() + 4)) + body;
}

std::string queryMessage(const std::string& sql) { return message('Q', sql + std::string(1, '\0')); }

std::map<char, std::string> errorFields(const std::string& body) {
    std::map<char, std::string> fields;
    std::size_t pos = 0;
    while (pos < body.size() && body[pos] != '\0') {
        char code = body[pos++];
        std::size_t end = body.find('\0', pos);
        if (end == std::string::npos) break;
        fields[code] = body.substr(pos, end - pos);
        pos = end + 1;
    }
    return fields;
}

RawClient::RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) close();
}

void RawClient::close() {
    if (fd_ >= 0 && owns_) ::close(fd_);
    fd_ = -1;
}

bool RawClient::send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

std::optional<std::string> RawClient::readExact(std::size_t n, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string out;
    while (out.size() < n) {
        if (!waitReadable(deadline)) return std::nullopt;
        char buffer[65536];
        ssize_t got = ::recv(fd_, buffer, std::min(sizeof buffer, n - out.size()), 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return std::nullopt;
        out.append(buffer, static_cast<std::size_t>(got));
    }
    return out;
}

std::optional<Message> RawClient::readMessage(std::chrono::milliseconds timeout) {
    auto header = readExact(5, timeout);
    if (!header) return std::nullopt;
    uint32_t length = readBe32(*header, 1);
    if (length < 4 || length > 64 * 1024 * 1024) return std::nullopt;
    auto body = readExact(length - 4, timeout);
    if (!body) return std::nullopt;
    return Message{(*header)[0], *body};
}

std::optional<Message> RawClient::readUntil(char type, std::chrono::milliseconds timeout) {
    for (;;) {
        auto msg = readMessage(timeout);
        if (!msg || msg->type == type) return msg;
    }
}

bool RawClient::waitClosed(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (!waitReadable(deadline)) return false;
        char buffer[4096];
        ssize_t got = ::recv(fd_, buffer, sizeof buffer, 0);
        if (got == 0) return true;
        if (got < 0 && errno != EINTR) return errno == ECONNRESET;
    }
}

bool RawClient::waitReadable(Clock::time_point deadline) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        pollfd pfd{fd_, POLLIN, 0};
        int ready = ::poll(&pfd, 1, static_cast<int>(left));
        if (ready > 0) return true;
        if (ready < 0 && errno == EINTR) continue;
        return false;
    }
}

bool trustLogin(RawClient& client, const std::string& user, const std::string& db) {
    if (!client.connected() || !client.send(startupPacket({{"user", user}, {"database", db}}))) return false;
    auto ready = client.readUntil('Z');
    return ready.has_value();
}

}  // namespace sluice::itest
