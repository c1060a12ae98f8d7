// How many CPUs this process may use, for `workers = auto`: the CPUs its affinity mask allows,
// lowered by a cgroup CPU quota (a container's or a Kubernetes pod's `limits.cpu`, systemd's
// CPUQuota=), which the affinity mask does not show: a sidecar limited to 2 CPUs on a 32-core
// node gets 2 workers, not 32.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace sluice::server {

// The contents of a file, nullopt when it cannot be read (tests pass a map).
using FileReader = std::function<std::optional<std::string>(const std::string& path)>;

// The tightest CPU quota over the process's cgroup and its ancestors (cgroup v2's cpu.max, or
// v1's cpu.cfs_quota_us / cpu.cfs_period_us), in whole CPUs rounded up; nullopt when none is set.
std::optional<int> cgroupCpuLimit(const FileReader& read);

// uv_available_parallelism() (the affinity mask), capped by cgroupCpuLimit of the real files.
int availableCpus();

}  // namespace sluice::server
