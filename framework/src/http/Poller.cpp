#include "detail/Poller.hpp"

#include <wharf/Log.hpp>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include <unistd.h>

namespace wharf::detail {

namespace {

int createEpoll()
{
    const int fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
    return fd;
}

}  // namespace

Poller::Poller(boost::asio::io_context& ioc, unsigned threads) : threads_(threads), epoll_(ioc, createEpoll())
{
    wait();
}

Poller::~Poller() { shutdown(); }

int Poller::add(int fd, Target& target)
{
    {
        std::lock_guard lock(listMutex_);
        target.prev_ = nullptr;
        target.next_ = first_;
        if (first_) first_->prev_ = &target;
        first_ = &target;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = &target;
    if (::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0) {
        const int e = errno;
        std::lock_guard lock(listMutex_);
        unlink(target);
        return e;
    }
    return 0;
}

void Poller::unlink(Target& target)
{
    if (target.prev_) target.prev_->next_ = target.next_;
    else if (first_ == &target) first_ = target.next_;
    if (target.next_) target.next_->prev_ = target.prev_;
    target.prev_ = target.next_ = nullptr;
}

void Poller::remove(int fd, Target& target)
{
    std::lock_guard lock(batchMutex_);
    if (epoll_.is_open()) {
        epoll_event ev{};  // (a non-null event pointer: kernels before 2.6.9 wanted one)
        ::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_DEL, fd, &ev);
    }
    {
        std::lock_guard list(listMutex_);
        unlink(target);
    }
    // This thread may be inside a batch (a target handled inline removing itself or
    // another): events of it not yet handed out are dropped. On any other thread the
    // lock waited for the batch to end, and nothing is left to drop.
    for (int i = cursor_ + 1; i < batchSize_; ++i) {
        auto& ev = events_[static_cast<std::size_t>(i)];
        if (ev.data.ptr == &target) ev.data.ptr = nullptr;
    }
}

void Poller::shutdown()
{
    std::vector<std::shared_ptr<void>> ended;
    {
        std::lock_guard lock(batchMutex_);
        boost::system::error_code ec;
        epoll_.close(ec);
        std::lock_guard list(listMutex_);
        while (first_) {
            Target& t = *first_;
            unlink(t);
            ended.push_back(t.onPollerShutdown());
        }
    }
    // Destroyed here, outside the locks (their destructors may call remove()).
}

void Poller::wait()
{
    epoll_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
        if (!ec) onReady();
    });
}

void Poller::onReady()
{
    {
        std::lock_guard lock(batchMutex_);
        if (!epoll_.is_open()) return;
        // Hand out what is ready now, a batch at a time; never block here.
        for (int rounds = 0; rounds < 4; ++rounds) {
            const int n = ::epoll_wait(epoll_.native_handle(), events_.data(), static_cast<int>(events_.size()), 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                log::error("epoll_wait: {}", std::strerror(errno));
                break;
            }
            batchSize_ = n;
            for (cursor_ = 0; cursor_ < batchSize_; ++cursor_) {
                const auto& ev = events_[static_cast<std::size_t>(cursor_)];
                if (ev.data.ptr) static_cast<Target*>(ev.data.ptr)->onPollEvents(ev.events);
            }
            batchSize_ = cursor_ = 0;
            if (n < static_cast<int>(events_.size())) break;
        }
        if (!epoll_.is_open()) return;
    }
    wait();
}

}  // namespace wharf::detail
