// libpq for tests: an owning connection whose every wait is bounded, so a pooler that hangs
// fails the test with a message instead of hanging the suite.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::itest {

using namespace std::chrono_literals;

// Builds a libpq conninfo string, quoting every value ("key='va\'lue'"). Empty values are skipped.
std::string conninfo(std::initializer_list<std::pair<std::string, std::string>> params);

// What one exec() produced. With several statements in one query string, rows/columns are those
// of the last statement that returned rows, and error/sqlstate those of the first that failed.
struct QueryResult {
    bool ok = false;
    std::string sqlstate;    // e.g. "42P01"; empty on success or when the error came from libpq itself
    std::string error;       // primary message, without the "ERROR:" prefix
    std::string detail;      // the error's DETAIL, "" when it had none
    std::string commandTag;  // e.g. "SELECT 1", "INSERT 0 3" (last statement)
    std::vector<std::string> columns;
    std::vector<std::vector<std::string>> rows;  // text format; NULL is "" (see isNull)
    std::vector<std::vector<bool>> nulls;

    // rows[row][col], or "" when out of range: keeps a failing test's message readable instead
    // of crashing it.
    std::string value(std::size_t row = 0, std::size_t col = 0) const;
    bool isNull(std::size_t row, std::size_t col) const;
    // "ok" or "SQLSTATE: message", for assertion messages.
    std::string describe() const;
};

class PqConn {
public:
    PqConn() = default;
    // Connects at once; check isOk() / error().
    explicit PqConn(const std::string& conninfo, std::chrono::milliseconds timeout = 10s);

    PqConn(PqConn&&) noexcept = default;
    PqConn& operator=(PqConn&&) noexcept = default;
    PqConn(const PqConn&) = delete;
    PqConn& operator=(const PqConn&) = delete;

    // Closes any previous connection. On failure, error() holds libpq's message and sqlstate()
    // the SQLSTATE of the server's (or pooler's) ErrorResponse, when there was one.
    bool connect(const std::string& conninfo, std::chrono::milliseconds timeout = 10s);
    void close();

    bool isOk() const;
    const std::string& error() const { return error_; }
    const std::string& sqlstate() const { return sqlstate_; }

    // Simple-protocol query; never waits longer than timeout (then the connection is closed,
    // since its state is unknown, and the result says so).
    QueryResult exec(const std::string& sql, std::chrono::milliseconds timeout = 30s);
    // The two halves of exec(), for tests that act while a query runs (cancel, pipelining).
    bool send(const std::string& sql);
    QueryResult collect(std::chrono::milliseconds timeout = 30s);

    // Sends a CancelRequest for whatever this connection is running. False with error() set
    // when libpq could not deliver it.
    bool cancel();

    // The pid from BackendKeyData (through a pooler: the pooler's, not a backend's).
    int backendPid() const;
    // A ParameterStatus value the server (or pooler) reported, "" when unknown.
    std::string parameter(const std::string& name) const;
    // NOTICE/WARNING messages received so far (primary message text).
    const std::vector<std::string>& notices() const { return *notices_; }

    PGconn* raw() const { return conn_.get(); }

private:
    struct Finisher {
        void operator()(PGconn* conn) const { PQfinish(conn); }
    };
    bool waitSocket(bool forWrite, std::chrono::steady_clock::time_point deadline);
    void failConnect(std::string message);

    std::unique_ptr<PGconn, Finisher> conn_;
    std::string error_;
    std::string sqlstate_;
    // Heap-held so the address given to libpq's notice receiver survives a move of PqConn.
    std::unique_ptr<std::vector<std::string>> notices_ = std::make_unique<std::vector<std::string>>();
};

// Extracts the SQLSTATE from a libpq error text produced with PQERRORS_VERBOSE
// ("FATAL:  28P01: password ..."); "" when there is none. Exposed for its unit test.
std::string sqlstateFromVerboseMessage(const std::string& message);

// Milliseconds since `since`, for bounds in assertions.
long long elapsedMs(std::chrono::steady_clock::time_point since);

// poll() on one descriptor until `events` or the deadline; false on timeout.
bool waitFd(int fd, short events, std::chrono::steady_clock::time_point deadline);

// COPY <table> FROM STDIN with `data` (table may carry a column list: "t (a, b)"), every wait
// bounded by `timeout`. "" on success (and *tag gets the command tag), else what went wrong.
std::string copyIn(PGconn* conn, const std::string& table, const std::string& data, std::string* tag,
                   std::chrono::milliseconds timeout = 30s);

// ---- The wire protocol by hand, for tests that must send what libpq never would ----

constexpr uint32_t kProtocol30 = 196608;  // 3.0

std::string be32(uint32_t value);
std::string be16(uint16_t value);
uint32_t readBe32(const std::string& bytes, std::size_t at);
std::string startupPacket(const std::vector<std::pair<std::string, std::string>>& params,
                          uint32_t version = kProtocol30);
// One frontend message: type byte, length, body.
std::string message(char type, const std::string& body);
// A simple Query message for `sql` (the terminating NUL added).
std::string queryMessage(const std::string& sql);

struct Message {
    char type = 0;
    std::string body;
};

// ErrorResponse/NoticeResponse fields by their one-letter code ('C' = SQLSTATE, 'M' = message).
std::map<char, std::string> errorFields(const std::string& body);

// A blocking TCP client whose every read is bounded by a deadline.
class RawClient {
public:
    // Connects to 127.0.0.1:port; check connected().
    explicit RawClient(int port);
    // Reads from a socket someone else owns (e.g. PQsocket() of a connection libpq is done with).
    struct Borrowed {
        int fd;
    };
    explicit RawClient(Borrowed socket) : fd_(socket.fd), owns_(false) {}
    ~RawClient() { close(); }
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    bool connected() const { return fd_ >= 0; }
    void close();

    bool send(const std::string& bytes);
    // Exactly n bytes, or nullopt on EOF, error or timeout.
    std::optional<std::string> readExact(std::size_t n, std::chrono::milliseconds timeout = 5s);
    std::optional<Message> readMessage(std::chrono::milliseconds timeout = 5s);
    // Reads messages until one of `type` (returned) or until EOF/timeout (nullopt).
    std::optional<Message> readUntil(char type, std::chrono::milliseconds timeout = 5s);
    // True when the peer closes (EOF or reset) within timeout; whatever it sends first is dropped.
    bool waitClosed(std::chrono::milliseconds timeout);

private:
    bool waitReadable(std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    bool owns_ = true;
};

// Logs in with auth_type=trust and reads up to the first ReadyForQuery; false if that failed.
bool trustLogin(RawClient& client, const std::string& user = "app", const std::string& db = "app");

}  // namespace sluice::itest
