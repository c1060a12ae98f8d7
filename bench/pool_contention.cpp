// bench_pool_contention: the cost of the shared-pool path, without a network (issue 14; see
// bench/README.md). N threads stand for N workers: each owns a PoolShard of ONE shared Pool and
// one client that acquires a server and releases it, over and over, through the real PoolShard
// code — acquire(), then isCurrent() and serverReady() as ServerConn::releaseFromClient does in
// transaction mode — and the real room sharing of DESIGN §3 (Pool::askForRoom, takeRoomRequest,
// roomGiven, tryReserveServerSlot/releaseServerSlot). What is not the code under test is
// replaced by the least that behaves like it: servers are in-process objects whose "login"
// finishes as soon as the launching call has returned, and a thread's mailbox is
// Worker::post's mutex-guarded vector, with a condition variable where the worker has
// uv_async_send.
//
//   bench_pool_contention [--threads 1,2,4,8] [--seconds 2] [--warmup 0.5] [--modes own,shared]
//                         [--json FILE] [--no-pin]
//
// Modes, each run for every N:
//   own     pool_size = 2N: each shard keeps an idle server of its own (the common path). A
//           release reads the pool's "room wanted" count and nothing else shared.
//   shared  pool_size = N/2 (N >= 2): half the workers wait at the limit and ask for room, so
//           every release gives its slot to another worker (the give-away of DESIGN §3). The
//           worst case of the contended path: a slot moves between threads at each release.
//
// For each run: a warm-up, then a fixed window in which each thread's completed acquire+release
// pairs and its CPU time (CLOCK_THREAD_CPUTIME_ID) are read. Printed: pairs per second in total
// and per thread (wall clock), and per CPU-second of a thread — the figure that stays
// comparable when there are more threads than cores —, slot gifts per second and the longest
// any client waited. Afterwards the pool's server count is checked against the servers the
// shards hold. Exit status 1 if a check fails, 2 on bad usage.
//
// Thread i is pinned to CPU i mod cores (--no-pin: not), so that a wake-up does not move the
// woken thread onto the waker's core and preempt it: that measures the scheduler, not the pool.
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pool/pool.h"
#include "pool/pool_shard.h"
#include "util/clock.h"

namespace {

using namespace sluice;
using namespace std::chrono_literals;

constexpr auto kSweep = 200ms;  // the worker's sweep period (server/worker.cpp: kSweepMillis)

[[noreturn]] void fail(const std::string& why) {
    std::fprintf(stderr, "bench_pool_contention: %s\n", why.c_str());
    std::exit(1);
}

struct BenchServer final : pool::PooledServer {};

// The client of a worker: holds the server it was given until the loop releases it.
struct BenchClient final : pool::PoolWaiter {
    pool::PooledServer* held = nullptr;
    bool waiting = false;
    std::atomic<int64_t> longestWaitNs{0};  // read by the main thread
    void onServerAvailable(pool::PooledServer& server) override {
        held = &server;
        if (waiting) {  // queued by acquire(), which stamped waitingSince
            const int64_t waited = std::chrono::nanoseconds(Clock::now() - waitingSince).count();
            if (waited > longestWaitNs.load(std::memory_order_relaxed))
                longestWaitNs.store(waited, std::memory_order_relaxed);
        }
        waiting = false;
    }
    void onServerUnavailable(const Error& error) override { fail("client refused: " + error.message); }
    std::string describe() const override { return "bench client"; }
};

class Worker;
using Task = std::function<void(Worker&)>;

// Tasks posted to a worker from other threads, as server/worker.cpp's Worker::post; a sleeping
// worker is woken (the worker's uv_async_send), a busy one finds them on its next turn.
class Mailbox {
public:
    void post(Task task) {
        bool wake;
        {
            std::lock_guard lock(mutex_);
            tasks_.push_back(std::move(task));
            pending_.store(true, std::memory_order_release);
            wake = sleeping_;
        }
        if (wake) ready_.notify_one();
    }
    // Cheap enough to ask at every turn: a load of a word that changes only when mail comes.
    bool pending() const { return pending_.load(std::memory_order_acquire); }
    std::vector<Task> take() {
        std::lock_guard lock(mutex_);
        pending_.store(false, std::memory_order_relaxed);
        return std::exchange(tasks_, {});
    }
    // Sleeps until mail, `stop`, or `until` (the loop's epoll_wait with the sweep timer).
    void wait(TimePoint until, const std::atomic<bool>& stop) {
        std::unique_lock lock(mutex_);
        sleeping_ = true;
        ready_.wait_until(lock, until, [&] { return !tasks_.empty() || stop.load(std::memory_order_relaxed); });
        sleeping_ = false;
    }
    void wakeForStop() {
        std::lock_guard lock(mutex_);
        ready_.notify_one();
    }

private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::vector<Task> tasks_;
    std::atomic<bool> pending_{false};
    bool sleeping_ = false;
};

// One worker: its shard of the shared pool, its client, its servers, its mailbox and loop.
class Worker {
public:
    // `all` is still being filled: `count` is how many workers it will hold.
    Worker(int index, int count, std::vector<std::unique_ptr<Worker>>& all, std::shared_ptr<pool::Pool> pool)
        : index_(index),
          all_(all),
          shard_(std::move(pool), [this](pool::PoolShard& shard) { launch(shard); }, 0, false) {
        // As Connections::shardFor: room sharing only with more than one worker.
        if (count > 1)
            shard_.setRoomSharing(
                index_, [this](pool::PoolShard&) { askOthers(); },
                [this](pool::PoolShard& giving, pool::PooledServer& server, TimePoint waitingSince) {
                    return give(giving, server, waitingSince);
                });
    }

    void run(const std::atomic<bool>& stop) {
        TimePoint nextSweep = Clock::now() + kSweep;
        uint64_t turn = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            turnOnce();
            if (client_.held) {
                pool::PooledServer* server = std::exchange(client_.held, nullptr);
                // ServerConn::releaseFromClient, transaction mode, no reset query: still current → ready.
                if (!shard_.isCurrent(*server)) fail("server not current");
                shard_.serverReady(*server);
                pairs.store(pairs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            } else if (loggingIn_.empty() && !mail_.pending()) {
                mail_.wait(std::min(nextSweep, Clock::now() + kSweep), stop);
            }
            if ((++turn & 255) == 0 || client_.waiting) {
                const TimePoint now = Clock::now();
                if (now >= nextSweep) {
                    shard_.maintain(now);
                    nextSweep = now + kSweep;
                }
            }
        }
    }

    // One loop turn's events: posted tasks, finished logins, then the client asks for a server.
    void turnOnce() {
        if (mail_.pending())
            for (Task& task : mail_.take()) task(*this);
        if (!loggingIn_.empty()) {
            std::vector<BenchServer*> done = std::exchange(loggingIn_, {});
            for (BenchServer* server : done) shard_.serverReady(*server);  // login finished
        }
        if (!client_.held && !client_.waiting) {
            pool::Acquired got = shard_.acquire(client_);
            if (got.error) fail("acquire refused: " + got.error->message);
            if (got.server) client_.held = got.server;
            else client_.waiting = true;
        }
    }

    // After the threads stopped: serves what is still in flight, until nothing is.
    bool quiescent() const { return loggingIn_.empty() && !mail_.pending(); }
    void wakeForStop() { mail_.wakeForStop(); }
    void resetLongestWait() { client_.longestWaitNs.store(0, std::memory_order_relaxed); }
    int64_t longestWaitNs() const { return client_.longestWaitNs.load(std::memory_order_relaxed); }
    size_t serversHeld() const {
        return shard_.idleCount() + shard_.activeCount() + shard_.loginCount() + shard_.usedCount();
    }

    // Read by the main thread while the loop runs; written only by this worker.
    std::atomic<uint64_t> pairs{0};  // acquire+release pairs completed
    std::atomic<uint64_t> gifts{0};  // slots given to another worker

private:
    // The Launcher: a server connection on the login list at once (PoolShard::launchOne checks
    // that), whose login finishes after the call that launched it has returned, as a real one's
    // does some loop turns later.
    void launch(pool::PoolShard& shard) {
        BenchServer* server;
        if (spare_.empty()) {
            servers_.push_back(std::make_unique<BenchServer>());
            server = servers_.back().get();
        } else {
            server = spare_.back();
            spare_.pop_back();
        }
        server->slotGivenAway = false;  // the rest is set by serverLaunched and serverReady
        shard.serverLaunched(*server);
        loggingIn_.push_back(server);
    }

    // Connections::offerToOtherWorkers: an idle server elsewhere answers at once.
    void askOthers() {
        for (auto& other : all_)
            if (other.get() != this) other->mail_.post([](Worker& w) { w.shard_.offerIdleServer(); });
    }

    // Connections::giveRoom: the server closes (here at once, there once its socket has closed)
    // and its slot goes to the asking worker with a posted roomGiven.
    bool give(pool::PoolShard& giving, pool::PooledServer& server, TimePoint waitingSince) {
        auto to = giving.pool().takeRoomRequest(waitingSince, index_);
        if (!to) return false;
        server.slotGivenAway = true;
        giving.serverGone(server);  // off its list; the slot stays counted, for the gift
        spare_.push_back(static_cast<BenchServer*>(&server));
        all_[static_cast<size_t>(*to)]->mail_.post([](Worker& w) { w.shard_.roomGiven(); });
        gifts.store(gifts.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return true;
    }

    const int index_;
    std::vector<std::unique_ptr<Worker>>& all_;
    Mailbox mail_;
    BenchClient client_;
    std::vector<std::unique_ptr<BenchServer>> servers_;
    std::vector<BenchServer*> spare_;      // closed, reused by the next launch
    std::vector<BenchServer*> loggingIn_;  // launched; logged in on the next turn
    pool::PoolShard shard_;                // last: destroyed before what its lists point to
};

struct Row {
    std::string mode;
    int threads = 0, poolSize = 0;
    double seconds = 0, pairs = 0, cpuSeconds = 0, gifts = 0, minThreadPairs = 0, longestWaitMs = 0;
    double total() const { return pairs / seconds; }
    double perThread() const { return total() / threads; }
    double perCpuSecond() const { return cpuSeconds > 0 ? pairs / cpuSeconds : 0; }
};

double threadCpuSeconds(std::thread& thread) {
    clockid_t clock;
    timespec ts{};
    if (pthread_getcpuclockid(thread.native_handle(), &clock) != 0 || clock_gettime(clock, &ts) != 0)
        fail("cannot read a thread's CPU time");
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void pin(std::thread& thread, size_t index) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(index % std::max(1u, std::thread::hardware_concurrency()), &set);
    if (pthread_setaffinity_np(thread.native_handle(), sizeof set, &set) != 0) fail("cannot pin a thread");
}

Row measure(const std::string& mode, int threads, double warmup, double seconds, bool pinned) {
    const int poolSize = mode == "own" ? 2 * threads : threads / 2;
    auto target = std::make_shared<pool::PoolTarget>();
    target->database = target->dbname = target->serverUser = "bench";
    target->mode = pool::PoolMode::Transaction;
    target->poolSize = poolSize;
    auto counter = [] { return std::make_shared<pool::LimitCounter>(); };
    auto pool = std::make_shared<pool::Pool>("bench", "bench", target, counter(), counter(), counter(), counter());

    std::vector<std::unique_ptr<Worker>> workers;
    workers.reserve(static_cast<size_t>(threads));  // the workers keep a reference to it
    for (int i = 0; i < threads; ++i) workers.push_back(std::make_unique<Worker>(i, threads, workers, pool));
    std::atomic<bool> stop{false};
    std::vector<std::thread> running;
    for (auto& worker : workers) {
        running.emplace_back([&stop, w = worker.get()] { w->run(stop); });
        if (pinned) pin(running.back(), running.size() - 1);
    }

    // The longest wait counts from the window's start: a warm-up wait is not the steady state.
    auto sample = [&](std::vector<uint64_t>& pairs, std::vector<double>& cpu, uint64_t& gifts) {
        gifts = 0;
        for (size_t i = 0; i < workers.size(); ++i) {
            pairs[i] = workers[i]->pairs.load(std::memory_order_relaxed);
            gifts += workers[i]->gifts.load(std::memory_order_relaxed);
            cpu[i] = threadCpuSeconds(running[i]);
        }
        return Clock::now();
    };
    const size_t n = workers.size();
    std::vector<uint64_t> pairs0(n), pairs1(n);
    std::vector<double> cpu0(n), cpu1(n);
    uint64_t gifts0 = 0, gifts1 = 0;
    std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
    const TimePoint t0 = sample(pairs0, cpu0, gifts0);
    for (auto& worker : workers) worker->resetLongestWait();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    const TimePoint t1 = sample(pairs1, cpu1, gifts1);
    int64_t longestWait = 0;
    for (auto& worker : workers) longestWait = std::max(longestWait, worker->longestWaitNs());
    stop.store(true);
    for (auto& worker : workers) worker->wakeForStop();
    for (auto& thread : running) thread.join();

    Row row{mode, threads, poolSize, secondsSince(t0, t1)};
    row.minThreadPairs = 1e300;
    for (size_t i = 0; i < n; ++i) {
        const double done = static_cast<double>(pairs1[i] - pairs0[i]);
        row.pairs += done;
        row.minThreadPairs = std::min(row.minThreadPairs, done);
        row.cpuSeconds += cpu1[i] - cpu0[i];
    }
    row.gifts = static_cast<double>(gifts1 - gifts0);
    row.longestWaitMs = static_cast<double>(longestWait) / 1e6;

    // The threads are gone: deliver what was in flight (gifts, logins), then the pool's count
    // must be exactly the servers the shards hold, and within the pool size.
    bool settled = false;
    for (int round = 0; round < 1000 && !settled; ++round) {
        settled = true;
        for (auto& worker : workers)
            if (!worker->quiescent()) {
                settled = false;
                worker->turnOnce();
            }
    }
    if (!settled) fail("gifts and logins still in flight after 1000 rounds");
    size_t held = 0;
    for (auto& worker : workers) held += worker->serversHeld();
    if (static_cast<size_t>(pool->serverCount()) != held || pool->serverCount() > poolSize)
        fail("pool counts " + std::to_string(pool->serverCount()) + " servers, shards hold " + std::to_string(held) +
             ", pool size " + std::to_string(poolSize));
    if (row.pairs <= 0) fail(mode + " with " + std::to_string(threads) + " threads completed nothing");
    return row;
}

std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> parts;
    std::stringstream in(text);
    for (std::string part; std::getline(in, part, ',');)
        if (!part.empty()) parts.push_back(part);
    return parts;
}

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: bench_pool_contention [--threads 1,2,4,8] [--seconds 2] [--warmup 0.5] "
                 "[--modes own,shared] [--json FILE] [--no-pin]\n");
    std::exit(2);
}

void printTable(const std::vector<Row>& rows) {
    std::printf("%-6s %7s %9s %10s %11s %11s %14s %10s %9s %9s\n", "mode", "threads", "pool_size", "total M/s",
                "M/s/thread", "min thread", "M/CPU-s/thread", "ns CPU/op", "gifts/s", "wait max");
    for (const Row& r : rows)
        std::printf("%-6s %7d %9d %10.2f %11.2f %11.2f %14.2f %10.0f %9.0f %6.1f ms\n", r.mode.c_str(), r.threads,
                    r.poolSize, r.total() / 1e6, r.perThread() / 1e6, r.minThreadPairs / r.seconds / 1e6,
                    r.perCpuSecond() / 1e6, r.pairs > 0 ? r.cpuSeconds / r.pairs * 1e9 : 0, r.gifts / r.seconds,
                    r.longestWaitMs);
}

void writeJson(const std::string& path, const std::vector<Row>& rows, double warmup, double seconds, bool pinned) {
    std::ofstream out(path);
    out << "{\"cores\": " << std::thread::hardware_concurrency() << ", \"warmup_seconds\": " << warmup
        << ", \"seconds\": " << seconds << ", \"pinned\": " << (pinned ? "true" : "false") << ", \"rows\": [";
    for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        out << (i ? ", " : "") << "{\"mode\": \"" << r.mode << "\", \"threads\": " << r.threads
            << ", \"pool_size\": " << r.poolSize << ", \"window_seconds\": " << r.seconds
            << ", \"pairs\": " << r.pairs << ", \"cpu_seconds\": " << r.cpuSeconds
            << ", \"total_per_second\": " << r.total() << ", \"per_thread_per_second\": " << r.perThread()
            << ", \"min_thread_per_second\": " << r.minThreadPairs / r.seconds
            << ", \"per_thread_cpu_second\": " << r.perCpuSecond() << ", \"gifts_per_second\": " << r.gifts / r.seconds
            << ", \"longest_wait_ms\": " << r.longestWaitMs << "}";
    }
    out << "]}\n";
    if (!out) fail("cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<int> threadCounts{1, 2, 4, 8};
    std::vector<std::string> modes{"own", "shared"};
    double seconds = 2, warmup = 0.5;
    std::string json;
    bool pinned = true;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--no-pin") {
            pinned = false;
            continue;
        }
        if (i + 1 >= argc) usage();
        const std::string value = argv[++i];
        if (arg == "--threads") {
            threadCounts.clear();
            for (const auto& part : split(value)) threadCounts.push_back(std::atoi(part.c_str()));
        } else if (arg == "--seconds") {
            seconds = std::atof(value.c_str());
        } else if (arg == "--warmup") {
            warmup = std::atof(value.c_str());
        } else if (arg == "--modes") {
            modes = split(value);
        } else if (arg == "--json") {
            json = value;
        } else {
            usage();
        }
    }
    if (seconds <= 0 || warmup < 0 || threadCounts.empty() ||
        std::any_of(threadCounts.begin(), threadCounts.end(), [](int n) { return n < 1 || n > 256; }) ||
        std::any_of(modes.begin(), modes.end(), [](const auto& m) { return m != "own" && m != "shared"; }))
        usage();

    std::printf("bench_pool_contention: %u CPUs, %.1f s warm-up + %.1f s per run, threads %s; acquire+release pairs\n",
                std::thread::hardware_concurrency(), warmup, seconds, pinned ? "pinned" : "not pinned");
    std::vector<Row> rows;
    for (const auto& mode : modes)
        for (int threads : threadCounts) {
            if (mode == "shared" && threads < 2) continue;  // a pool smaller than one thread: none
            rows.push_back(measure(mode, threads, warmup, seconds, pinned));
        }
    printTable(rows);
    if (!json.empty()) writeJson(json, rows, warmup, seconds, pinned);
    return 0;
}
