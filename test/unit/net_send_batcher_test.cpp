// SendBatcher with real loopback sockets: output written during a loop iteration leaves in one
// flush, in order, and what the kernel does not take falls back to libuv's queue intact.
#include <arpa/inet.h>
#include <csignal>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "net/send_batcher.h"
#include "net/socket.h"

namespace sluice::net {
namespace {

// Remembers what the Socket reports.
struct RecordingOwner : SocketOwner {
    std::string ended;
    int drained = 0;
    bool closed = false;
    void onSocketRead(IoBuffer& input) override { input.consume(input.size()); }
    void onSocketEnd(std::string_view reason) override { ended = std::string(reason); }
    void onSocketDrained() override { ++drained; }
    void onSocketClosed() override { closed = true; }
};

// A Socket accepted on the loop, and the plain blocking fd at the other end.
struct Pair {
    RecordingOwner owner;
    std::unique_ptr<Socket> socket;
    int peer = -1;
    ~Pair() {
        if (peer >= 0) ::close(peer);
    }
};

class SendBatcherTest : public ::testing::Test {
protected:
    void SetUp() override {
        uv_loop_init(&loop_);
        std::string whyNot;
        batcher_ = SendBatcher::attach(&loop_, whyNot);
        if (!batcher_) GTEST_SKIP() << "io_uring not available here: " << whyNot;
        uv_tcp_init(&loop_, &listener_);
        listener_.data = this;
        sockaddr_in addr{};
        uv_ip4_addr("127.0.0.1", 0, &addr);
        ASSERT_EQ(uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0), 0);
        ASSERT_EQ(uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 16, &SendBatcherTest::onConnection), 0);
        int len = sizeof addr;
        uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
    }

    void TearDown() override {
        for (auto& pair : pairs_)
            if (pair->socket && pair->socket->isOpen()) pair->socket->close();
        if (batcher_) uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
        uv_run(&loop_, UV_RUN_DEFAULT);
        pairs_.clear();
        batcher_.reset();
        EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
    }

    static void onConnection(uv_stream_t* listener, int status) {
        auto* self = static_cast<SendBatcherTest*>(listener->data);
        ASSERT_EQ(status, 0);
        Pair& pair = *self->accepting_;
        pair.socket = std::make_unique<Socket>(&self->loop_, pair.owner);
        ASSERT_EQ(pair.socket->open(false), 0);
        ASSERT_EQ(pair.socket->acceptFrom(listener), 0);
    }

    Pair& connect() {
        pairs_.push_back(std::make_unique<Pair>());
        Pair& pair = *pairs_.back();
        accepting_ = &pair;
        pair.peer = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port_));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::connect(pair.peer, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        while (!pair.socket) uv_run(&loop_, UV_RUN_ONCE);
        return pair;
    }

    // What has arrived at `fd` without waiting.
    static std::string available(int fd) {
        std::string got;
        char buf[65536];
        for (;;) {
            ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n <= 0) break;
            got.append(buf, static_cast<size_t>(n));
        }
        return got;
    }

    // Reads `fd` while running the loop until `size` bytes or EOF arrived.
    std::string drain(int fd, size_t size) {
        std::string got;
        for (int idle = 0; got.size() < size && idle < 1000;) {
            uv_run(&loop_, UV_RUN_NOWAIT);
            std::string more = available(fd);
            idle = more.empty() ? idle + 1 : 0;
            if (more.empty()) ::usleep(1000);
            got += more;
        }
        return got;
    }

    uv_loop_t loop_{};
    uv_tcp_t listener_{};
    int port_ = 0;
    std::unique_ptr<SendBatcher> batcher_;
    std::vector<std::unique_ptr<Pair>> pairs_;
    Pair* accepting_ = nullptr;
};

TEST_F(SendBatcherTest, AnIterationsWritesLeaveTogetherAtTheFlushInOrder) {
    Pair& a = connect();
    Pair& b = connect();
    a.socket->write("one ");
    b.socket->write("uno ");
    a.socket->write("two");
    b.socket->write("dos");
    ::usleep(10000);
    EXPECT_EQ(available(a.peer), "") << "written before the flush";
    EXPECT_EQ(available(b.peer), "");
    batcher_->flush();
    EXPECT_EQ(drain(a.peer, 7), "one two");
    EXPECT_EQ(drain(b.peer, 7), "uno dos");
    EXPECT_EQ(a.socket->queuedBytes(), 0u);
}

TEST_F(SendBatcherTest, TheLoopFlushesByItself) {
    Pair& a = connect();
    a.socket->write("hello");
    uv_run(&loop_, UV_RUN_NOWAIT);
    EXPECT_EQ(drain(a.peer, 5), "hello");
}

TEST_F(SendBatcherTest, WhatTheKernelDoesNotTakeIsQueuedAndArrivesIntactAfterTheRest) {
    Pair& a = connect();
    std::string big(8 << 20, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    a.socket->write(big);
    batcher_->flush();
    EXPECT_GT(a.socket->queuedBytes(), 0u) << "8 MB fit the socket buffer; the test proves nothing";
    a.socket->write("tail");  // behind the queued rest, not batched ahead of it
    EXPECT_EQ(drain(a.peer, big.size() + 4), big + "tail");
    EXPECT_EQ(a.socket->queuedBytes(), 0u);
    EXPECT_GE(a.owner.drained, 1);
}

TEST_F(SendBatcherTest, CloseSendsWhatWasWrittenThenEnds) {
    Pair& a = connect();
    a.socket->write("last words");
    a.socket->close();
    std::string got = drain(a.peer, 10);
    EXPECT_EQ(got, "last words");
    for (int i = 0; i < 100 && !a.owner.closed; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    EXPECT_TRUE(a.owner.closed);
    char byte;
    EXPECT_EQ(::recv(a.peer, &byte, 1, 0), 0) << "EOF after the bytes";
}

TEST_F(SendBatcherTest, AClosedAndFreedSocketLeavesNothingBehindInTheBatch) {
    Pair& a = connect();
    Pair& b = connect();
    a.socket->write("goes before the close");
    b.socket->write("sent");
    a.socket->close();  // its bytes leave the batch for libuv's queue
    for (int i = 0; i < 100 && !a.owner.closed; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    ASSERT_TRUE(a.owner.closed);
    a.socket.reset();  // a slot still naming it would be a use after free at the flush (ASan)
    b.socket->write(" too");
    batcher_->flush();
    EXPECT_EQ(drain(b.peer, 8), "sent too");
    EXPECT_EQ(drain(a.peer, 21), "goes before the close");
}

TEST_F(SendBatcherTest, AWriteToAResetPeerEndsTheConnectionFromTheLoop) {
    Pair& a = connect();
    linger hard{1, 0};
    ::setsockopt(a.peer, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    ::close(a.peer);  // RST
    a.peer = -1;
    ::signal(SIGPIPE, SIG_IGN);  // as the daemon does: libuv's write after the reset would raise it
    ::usleep(10000);
    a.socket->write("into the void");
    batcher_->flush();
    EXPECT_EQ(a.owner.ended, "") << "the owner must not hear of it inside its own call";
    for (int i = 0; i < 100 && a.owner.ended.empty(); ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    EXPECT_NE(a.owner.ended, "");
}

TEST(SendBatcher, CanBeSwitchedOff) {
    uv_loop_t loop{};
    uv_loop_init(&loop);
    ::setenv("SLUICE_NO_IO_URING", "1", 1);
    std::string whyNot;
    EXPECT_EQ(SendBatcher::attach(&loop, whyNot), nullptr);
    EXPECT_EQ(whyNot, "SLUICE_NO_IO_URING is set");
    EXPECT_EQ(SendBatcher::of(&loop), nullptr);
    ::unsetenv("SLUICE_NO_IO_URING");
    EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
}  // namespace sluice::net
