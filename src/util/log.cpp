#include "util/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <syslog.h>

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <mutex>

namespace sluice::log {

namespace {

// PgBouncer's level words instead of spdlog's.
std::string_view levelWord(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::trace: return "NOISE";
        case spdlog::level::debug: return "DEBUG";
        case spdlog::level::info: return "LOG";
        case spdlog::level::warn: return "WARNING";
        case spdlog::level::err: return "ERROR";
        default: return "FATAL";
    }
}

class LevelWord : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        std::string_view word = levelWord(msg.level);
        dest.append(word.data(), word.data() + word.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelWord>(); }
};

// spdlog's %P asks getpid() for every line and every sink: a system call each time, four per
// login with log_connections on. The pid changes only in a fork()ed child (daemonizing).
std::atomic<pid_t> cachedPid{0};

pid_t processId() {
    static const bool watchingForks = [] {
        ::pthread_atfork(nullptr, nullptr, [] { cachedPid.store(::getpid(), std::memory_order_relaxed); });
        cachedPid.store(::getpid(), std::memory_order_relaxed);
        return true;
    }();
    (void)watchingForks;
    return cachedPid.load(std::memory_order_relaxed);
}

class ProcessId : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
        fmt::format_to(std::back_inserter(dest), "{}", processId());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<ProcessId>(); }
};

int facilityCode(const std::string& name) {
    static const std::map<std::string, int> codes = {
        {"auth", LOG_AUTH},     {"authpriv", LOG_AUTHPRIV}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
        {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},     {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
        {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},     {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
    };
    auto it = codes.find(name);
    return it == codes.end() ? LOG_DAEMON : it->second;
}

std::mutex configureMutex;
Options current;

void appendJsonString(std::string& out, std::string_view text) {
    out += '"';
    for (char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<int>(c));
                else out += c;
        }
    }
    out += '"';
}

// log_format = json: one object per line, for log pipelines.
class JsonFormatter : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto micros =
            std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch()).count();
        const time_t seconds = static_cast<time_t>(micros / 1000000);
        std::tm utc{};
        gmtime_r(&seconds, &utc);
        const std::string stamp = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                                              utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                                              (micros / 1000) % 1000);
        const std::string line = jsonLine(stamp, static_cast<int>(processId()), levelWord(msg.level),
                                          std::string_view(msg.payload.data(), msg.payload.size()));
        dest.append(line.data(), line.data() + line.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

std::unique_ptr<spdlog::formatter> makeFormatter(bool withTimestamp) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<LevelWord>('*');
    formatter->add_flag<ProcessId>('#');
    formatter->set_pattern(withTimestamp ? "%Y-%m-%d %H:%M:%S.%e UTC [%#] %* %v" : "%* %v");
    return formatter;
}

}  // namespace

void configure(const Options& options) {
    std::lock_guard lock(configureMutex);
    current = options;
    std::vector<spdlog::sink_ptr> sinks;
    if (!options.quiet) sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
    if (!options.logfile.empty()) {
        try {
            sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.logfile));
        } catch (const spdlog::spdlog_ex& e) {
            // Keep logging elsewhere; the caller has already validated the path when it matters.
            fprintf(stderr, "cannot open logfile %s: %s\n", options.logfile.c_str(), e.what());
        }
    }
    std::shared_ptr<spdlog::sinks::syslog_sink_mt> syslogSink;
    if (options.syslog) {
        syslogSink = std::make_shared<spdlog::sinks::syslog_sink_mt>(options.syslogIdent, LOG_PID,
                                                                     facilityCode(options.syslogFacility), false);
    }
    auto logger = std::make_shared<spdlog::logger>("sluice", sinks.begin(), sinks.end());
    for (auto& sink : logger->sinks()) {
        if (options.json) sink->set_formatter(std::make_unique<JsonFormatter>());
        else sink->set_formatter(makeFormatter(true));
    }
    if (syslogSink) {
        syslogSink->set_formatter(makeFormatter(false));  // syslog stamps time and pid itself
        logger->sinks().push_back(syslogSink);
    }
    logger->set_level(options.verbose >= 2   ? spdlog::level::trace
                      : options.verbose == 1 ? spdlog::level::debug
                                             : spdlog::level::info);
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

std::string jsonLine(std::string_view timestamp, int pid, std::string_view level, std::string_view message) {
    std::string out = "{\"ts\":";
    appendJsonString(out, timestamp);
    out += fmt::format(",\"pid\":{},\"level\":", pid);
    appendJsonString(out, level);
    // "C-12: db/user@addr:port rest" (or S-): the connection's fields apart, the rest as message.
    std::string_view rest = message;
    if (message.size() > 3 && (message[0] == 'C' || message[0] == 'S') && message[1] == '-') {
        const size_t colon = message.find(": ");
        const size_t slash = message.find('/', colon);
        const size_t at = message.find('@', slash);
        const size_t space = message.find(' ', at);
        if (colon != std::string_view::npos && slash != std::string_view::npos && at != std::string_view::npos &&
            message.find_first_not_of("0123456789", 2) == colon) {
            const size_t end = space == std::string_view::npos ? message.size() : space;
            out += ",\"connection\":";
            appendJsonString(out, message.substr(0, colon));
            out += ",\"database\":";
            appendJsonString(out, message.substr(colon + 2, slash - colon - 2));
            out += ",\"user\":";
            appendJsonString(out, message.substr(slash + 1, at - slash - 1));
            out += message[0] == 'C' ? ",\"client\":" : ",\"server\":";
            appendJsonString(out, message.substr(at + 1, end - at - 1));
            rest = end < message.size() ? message.substr(end + 1) : std::string_view();
        }
    }
    out += ",\"message\":";
    appendJsonString(out, rest);
    out += "}\n";
    return out;
}

void reopen() {
    Options options;
    {
        std::lock_guard lock(configureMutex);
        options = current;
    }
    configure(options);
}

}  // namespace sluice::log
