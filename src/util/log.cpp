#include "util/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <syslog.h>

#include <map>
#include <mutex>

namespace sluice::log {

namespace {

// PgBouncer's level words instead of spdlog's.
class LevelWord : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        std::string_view word;
        switch (msg.level) {
            case spdlog::level::trace: word = "NOISE"; break;
            case spdlog::level::debug: word = "DEBUG"; break;
            case spdlog::level::info: word = "LOG"; break;
            case spdlog::level::warn: word = "WARNING"; break;
            case spdlog::level::err: word = "ERROR"; break;
            default: word = "FATAL"; break;
        }
        dest.append(word.data(), word.data() + word.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelWord>(); }
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

std::unique_ptr<spdlog::formatter> makeFormatter(bool withTimestamp) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<LevelWord>('*');
    formatter->set_pattern(withTimestamp ? "%Y-%m-%d %H:%M:%S.%e UTC [%P] %* %v" : "%* %v");
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
    for (auto& sink : logger->sinks()) sink->set_formatter(makeFormatter(true));
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

void reopen() {
    Options options;
    {
        std::lock_guard lock(configureMutex);
        options = current;
    }
    configure(options);
}

}  // namespace sluice::log
