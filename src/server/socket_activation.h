// systemd socket activation (sluice.socket): the listening sockets systemd opened for us, passed
// as file descriptors 3, 4, … with LISTEN_FDS and LISTEN_PID (sd_listen_fds(3)'s protocol, read
// without libsystemd). With them, Sluice listens where the .socket unit says instead of
// listen_addr / listen_port / unix_socket_dir, and a restart of the service keeps the sockets
// open (connections queue in the kernel meanwhile).
#pragma once

#include <vector>

namespace sluice::server {

// The passed sockets, once: the variables are removed so that nothing started later takes them
// for its own. Empty when there are none or they are meant for another process (LISTEN_PID).
std::vector<int> takeActivationSockets();

}  // namespace sluice::server
