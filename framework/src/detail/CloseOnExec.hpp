#pragma once
// Asio opens and accepts sockets without close-on-exec (socket() and accept(), not
// SOCK_CLOEXEC and accept4()): a program that embeds wharf and starts child processes
// would hand them its listening and connected sockets. A child that outlives the server
// then keeps its port bound (a restart fails with "address in use") and its peers'
// connections open. Every socket wharf makes is marked right after it exists; a fork on
// another thread in between can still catch one, as with any fcntl after the fact.

#include <fcntl.h>

namespace wharf::detail {

inline void setCloseOnExec(int fd) noexcept
{
    if (fd < 0) return;
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC)) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

}  // namespace wharf::detail
