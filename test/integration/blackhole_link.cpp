#include "blackhole_link.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "shell_util.h"

namespace sluice::itest {

namespace {

// 198.18.0.0/15 split into /30s, one per pid (modulo): .1 on the host's end, .2 on the far end.
std::string subnetAddress(pid_t pid, int host) {
    const unsigned offset = static_cast<unsigned>(pid % 32768) * 4 + static_cast<unsigned>(host);
    return "198." + std::to_string(18 + offset / 65536) + "." + std::to_string(offset / 256 % 256) + "." +
           std::to_string(offset % 256);
}

}  // namespace

BlackholeLink::BlackholeLink() {
    if (::geteuid() != 0) throw Unavailable("needs root (CAP_NET_ADMIN) to make a network namespace and a veth pair");
    if (run("ip -V", 10).status != 0) throw Unavailable("the `ip` command (iproute2) is not installed");
    const std::string id = std::to_string(::getpid());
    namespace_ = "sluice-blackhole-" + id;
    hostLink_ = "slbh" + id + "h";  // at most 15 characters, as the kernel demands
    farLink_ = "slbh" + id + "f";
    hostAddress_ = subnetAddress(::getpid(), 1);
    farAddress_ = subnetAddress(::getpid(), 2);
    ip("netns add " + namespace_, true);
    made_ = true;
    try {
        ip("link add " + hostLink_ + " type veth peer name " + farLink_ + " netns " + namespace_, true);
        ip("addr add " + hostAddress_ + "/30 dev " + hostLink_);
        ip("link set " + hostLink_ + " up");
        ip("-n " + namespace_ + " addr add " + farAddress_ + "/30 dev " + farLink_);
        ip("-n " + namespace_ + " link set " + farLink_ + " up");
        // "link/ether 02:…" in the one-line form: the far end's MAC, pinned on the host's end.
        const std::string link = ip("-n " + namespace_ + " -o link show " + farLink_);
        const auto at = link.find("link/ether ");
        if (at == std::string::npos) throw std::runtime_error("no MAC address in: " + link);
        ip("neigh replace " + farAddress_ + " lladdr " + link.substr(at + 11, 17) + " dev " + hostLink_ +
           " nud permanent");
    } catch (...) {
        remove();
        throw;
    }
}

BlackholeLink::~BlackholeLink() { remove(); }

void BlackholeLink::remove() {
    if (!made_) return;
    made_ = false;
    // Deleting the namespace deletes its end of the pair, and with it the host's end.
    run("ip link del " + hostLink_, 30);
    run("ip netns del " + namespace_, 30);
}

std::string BlackholeLink::ip(const std::string& arguments, bool unavailable) const {
    const RunResult result = run("ip " + arguments + " 2>&1", 30);
    if (result.status == 0) return result.output;
    const std::string message = "`ip " + arguments + "` failed: " + result.output;
    if (unavailable) throw Unavailable(message);
    throw std::runtime_error(message);
}

int BlackholeLink::listenInside() const {
    // A socket belongs to the namespace of the thread that makes it: a thread of its own enters
    // the namespace, so the test's threads stay where they are.
    int fd = -1;
    std::string failure;
    std::thread([&] {
        const int nsFd = ::open(("/var/run/netns/" + namespace_).c_str(), O_RDONLY | O_CLOEXEC);
        if (nsFd < 0 || ::setns(nsFd, CLONE_NEWNET) != 0) {
            failure = std::string("cannot enter the namespace: ") + std::strerror(errno);
        } else {
            fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in address{};
            address.sin_family = AF_INET;
            ::inet_pton(AF_INET, farAddress_.c_str(), &address.sin_addr);
            if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 0) != 0)
                failure = std::string("cannot listen inside the namespace: ") + std::strerror(errno);
        }
        if (nsFd >= 0) ::close(nsFd);
    }).join();
    if (!failure.empty()) {
        if (fd >= 0) ::close(fd);
        throw std::runtime_error(failure);
    }
    return fd;
}

void BlackholeLink::cut() { ip("-n " + namespace_ + " link set " + farLink_ + " down"); }

void BlackholeLink::restore() { ip("-n " + namespace_ + " link set " + farLink_ + " up"); }

}  // namespace sluice::itest
