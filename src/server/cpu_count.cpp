#include "server/cpu_count.h"

#include <uv.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

namespace sluice::server {

namespace {

std::vector<std::string> split(std::string_view text, char separator) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
        const size_t end = text.find(separator, start);
        parts.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) return parts;
        start = end + 1;
    }
}

// "150000 100000" → 1.5 CPUs; "max 100000" (no quota) or anything unreadable → nullopt.
std::optional<double> quotaOfCpuMax(const std::string& text) {
    std::istringstream in(text);
    std::string quota;
    double period = 0;
    if (!(in >> quota >> period) || quota == "max" || period <= 0) return std::nullopt;
    try {
        const double cpus = std::stod(quota) / period;
        return cpus > 0 ? std::optional<double>(cpus) : std::nullopt;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// cgroup v1: cpu.cfs_quota_us (-1: none) over cpu.cfs_period_us.
std::optional<double> quotaOfCfs(const std::optional<std::string>& quota, const std::optional<std::string>& period) {
    if (!quota || !period) return std::nullopt;
    return quotaOfCpuMax(*quota + " " + *period);  // "-1 100000" is no quota either: not positive
}

// The directory and its ancestors up to `root` ("/sys/fs/cgroup" + "/a/b" → …/a/b, …/a, root).
std::vector<std::string> upTo(const std::string& root, const std::string& path) {
    std::vector<std::string> dirs;
    std::string relative = path == "/" ? "" : path;
    while (true) {
        dirs.push_back(root + relative);
        if (relative.empty()) return dirs;
        relative.erase(relative.rfind('/'));
    }
}

}  // namespace

std::optional<int> cgroupCpuLimit(const FileReader& read) {
    const std::optional<std::string> membership = read("/proc/self/cgroup");
    if (!membership) return std::nullopt;
    std::optional<double> tightest;
    auto consider = [&](std::optional<double> cpus) {
        if (cpus && (!tightest || *cpus < *tightest)) tightest = cpus;
    };
    std::istringstream lines(*membership);
    for (std::string line; std::getline(lines, line);) {
        // "0::/path" (v2), "4:cpu,cpuacct:/path" (v1)
        const size_t first = line.find(':'), second = line.find(':', first + 1);
        if (first == std::string::npos || second == std::string::npos) continue;
        const std::string hierarchy = line.substr(0, first);
        const std::string controllers = line.substr(first + 1, second - first - 1);
        const std::string path = line.substr(second + 1);
        if (hierarchy == "0" && controllers.empty()) {
            for (const std::string& dir : upTo("/sys/fs/cgroup", path))
                if (auto text = read(dir + "/cpu.max")) consider(quotaOfCpuMax(*text));
            continue;
        }
        const std::vector<std::string> names = split(controllers, ',');
        if (std::find(names.begin(), names.end(), "cpu") == names.end()) continue;
        // Where v1 hierarchies are usually mounted: by the one controller, or by the list.
        for (const std::string& mount : {std::string("/sys/fs/cgroup/cpu"), "/sys/fs/cgroup/" + controllers})
            for (const std::string& dir : upTo(mount, path))
                consider(quotaOfCfs(read(dir + "/cpu.cfs_quota_us"), read(dir + "/cpu.cfs_period_us")));
    }
    if (!tightest) return std::nullopt;
    return std::max(1, static_cast<int>(std::ceil(*tightest - 1e-9)));
}

int availableCpus() {
    const int affinity = static_cast<int>(uv_available_parallelism());
    const std::optional<int> quota = cgroupCpuLimit([](const std::string& path) -> std::optional<std::string> {
        std::ifstream file(path);
        if (!file) return std::nullopt;
        std::ostringstream text;
        text << file.rdbuf();
        return text.str();
    });
    return quota ? std::min(affinity, *quota) : affinity;
}

}  // namespace sluice::server
