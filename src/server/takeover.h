// The online restart (-R, PgBouncer's meaning; DESIGN §3). The new process logs in to the running
// one's admin console over its unix socket, as the pooler's own unix user ("pgbouncer", no
// password), and sends TAKEOVER. The old process answers on that connection, outside its loops:
// a row per listening socket (pooler and HTTP), a row saying those are all, then a row per
// client as each comes to rest between transactions — every socket travelling beside its row
// (SCM_RIGHTS) — and CommandComplete once it has no client left.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "conn/client_conn.h"
#include "net/socket.h"
#include "util/result.h"

namespace sluice::server {

// The old process's end: a thread of its own writes the rows in order, blocking, so no loop waits
// for the new process to read.
class TakeoverSender {
public:
    // `fd`: the asking console connection, detached from its worker; ours from now on.
    explicit TakeoverSender(int fd);
    ~TakeoverSender();  // ends the hand-over (cut short if it has not finished), then closes
    TakeoverSender(const TakeoverSender&) = delete;
    TakeoverSender& operator=(const TakeoverSender&) = delete;

    // From any thread. The descriptors are closed here once sent (the new process has its own).
    void sendListener(int fd);
    void sendHttpListener(int fd);
    void sendListenersDone();
    void sendClient(conn::LeavingClient client);
    // The end of the hand-over: CommandComplete and ReadyForQuery, then the channel closes.
    void finish();
    // Everything queued went out (or the channel failed, and the rest was closed).
    bool finished() const;
    // The new process stopped reading: nothing more should be handed over.
    bool failed() const;
    size_t clientsSent() const;

private:
    struct Row {
        std::string task;
        std::string state;
        std::vector<int> fds;  // travel with the row, in this order
    };
    void queue(Row row);
    void run();
    bool write(const std::string& bytes, const std::vector<int>& fds);
    bool peerGone() const;

    int fd_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Row> rows_;
    bool finishing_ = false;
    bool finished_ = false;
    bool failed_ = false;
    size_t clientsSent_ = 0;
    std::thread thread_;
};

// The new process's end.
class TakeoverReceiver {
public:
    struct Listeners {
        std::vector<int> pooler;  // listening sockets for clients (TCP and unix)
        std::vector<int> http;    // those of the HTTP endpoint
        void closeAll();          // once they are listened on through duplicates
    };
    // Connects to the running process's unix socket and asks it to hand over. nullptr (and
    // `nobody` says why) when no process listens there: the start is then a normal one.
    static Result<std::unique_ptr<TakeoverReceiver>> connect(const std::string& socketPath, std::string& nobody);
    ~TakeoverReceiver();

    // The listening sockets, as the old process sends them first.
    Result<Listeners> receiveListeners();
    using Adopt = std::function<void(conn::LeavingClient)>;
    using Done = std::function<void(size_t clients, std::string error)>;
    // On a thread of its own: each client to `adopt` as it arrives, then `done` (error empty at
    // the old process's CommandComplete).
    void receiveClients(Adopt adopt, Done done);

private:
    explicit TakeoverReceiver(int fd) : fd_(fd) {}
    Status login();
    // The next message from the old process; descriptors that came with it are queued in fds_.
    Status readMessage(char& type, std::string& body);
    Result<int> takeFd();
    // A DataRow's two columns.
    static bool parseRow(const std::string& body, std::string& task, std::string& state);

    int fd_;
    std::string in_;
    std::deque<int> fds_;
    std::thread thread_;
};

}  // namespace sluice::server
