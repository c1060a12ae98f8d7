// workers = auto under a cgroup CPU quota: the quota found from /proc/self/cgroup, v2 and v1,
// over a file system given as a map.
#include <gtest/gtest.h>

#include <map>

#include "server/cpu_count.h"

namespace sluice::server {
namespace {

FileReader files(std::map<std::string, std::string> contents) {
    return [contents = std::move(contents)](const std::string& path) -> std::optional<std::string> {
        auto it = contents.find(path);
        return it == contents.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
}

TEST(CgroupCpuLimit, AContainersOwnCgroupV2Quota) {
    EXPECT_EQ(cgroupCpuLimit(files({{"/proc/self/cgroup", "0::/\n"}, {"/sys/fs/cgroup/cpu.max", "200000 100000\n"}})), 2);
    // 1.5 CPUs: two workers, one of them not always busy, rather than one for 1.5 CPUs of work.
    EXPECT_EQ(cgroupCpuLimit(files({{"/proc/self/cgroup", "0::/\n"}, {"/sys/fs/cgroup/cpu.max", "150000 100000\n"}})), 2);
    EXPECT_EQ(cgroupCpuLimit(files({{"/proc/self/cgroup", "0::/\n"}, {"/sys/fs/cgroup/cpu.max", "20000 100000\n"}})), 1);
    EXPECT_EQ(cgroupCpuLimit(files({{"/proc/self/cgroup", "0::/\n"}, {"/sys/fs/cgroup/cpu.max", "max 100000\n"}})),
              std::nullopt);
}

TEST(CgroupCpuLimit, TheTightestQuotaOfTheCgroupAndItsAncestors) {
    // A systemd service with CPUQuota=300% inside a slice limited to 2 CPUs.
    EXPECT_EQ(cgroupCpuLimit(files({{"/proc/self/cgroup", "0::/system.slice/sluice.service\n"},
                                    {"/sys/fs/cgroup/system.slice/sluice.service/cpu.max", "300000 100000"},
                                    {"/sys/fs/cgroup/system.slice/cpu.max", "200000 100000"},
                                    {"/sys/fs/cgroup/cpu.max", "max 100000"}})),
              2);
}

TEST(CgroupCpuLimit, CgroupV1CfsQuota) {
    const std::string membership = "4:memory:/x\n3:cpu,cpuacct:/kubepods/pod1\n0::/\n";
    EXPECT_EQ(cgroupCpuLimit(files({{"/proc/self/cgroup", membership},
                                    {"/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/cpu.cfs_quota_us", "400000\n"},
                                    {"/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/cpu.cfs_period_us", "100000\n"}})),
              4);
    EXPECT_EQ(cgroupCpuLimit(files({{"/proc/self/cgroup", membership},
                                    {"/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/cpu.cfs_quota_us", "-1\n"},
                                    {"/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/cpu.cfs_period_us", "100000\n"}})),
              std::nullopt);
}

TEST(CgroupCpuLimit, NothingToReadMeansNoLimit) {
    EXPECT_EQ(cgroupCpuLimit(files({})), std::nullopt);
    EXPECT_EQ(cgroupCpuLimit(files({{"/proc/self/cgroup", "garbage\n"}})), std::nullopt);
    EXPECT_EQ(cgroupCpuLimit(files({{"/proc/self/cgroup", "0::/\n"}, {"/sys/fs/cgroup/cpu.max", "what ever"}})),
              std::nullopt);
    EXPECT_GE(availableCpus(), 1);
}

}  // namespace
}  // namespace sluice::server
