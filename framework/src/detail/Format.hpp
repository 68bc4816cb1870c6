#pragma once
// fmt formatters for the types wharf logs (Debian's fmt 9.1 has none for them).

#include <wharf/CloseStatus.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <fmt/format.h>

#include <system_error>

template <>
struct fmt::formatter<boost::system::error_code> : fmt::formatter<std::string_view> {
    template <class Ctx>
    auto format(const boost::system::error_code& ec, Ctx& ctx) const
    {
        return fmt::format_to(ctx.out(), "{} ({}:{})", ec.message(), ec.category().name(), ec.value());
    }
};

template <>
struct fmt::formatter<std::error_code> : fmt::formatter<std::string_view> {
    template <class Ctx>
    auto format(const std::error_code& ec, Ctx& ctx) const
    {
        return fmt::format_to(ctx.out(), "{} ({}:{})", ec.message(), ec.category().name(), ec.value());
    }
};

template <>
struct fmt::formatter<boost::asio::ip::tcp::endpoint> : fmt::formatter<std::string_view> {
    template <class Ctx>
    auto format(const boost::asio::ip::tcp::endpoint& ep, Ctx& ctx) const
    {
        if (ep.address().is_v6()) return fmt::format_to(ctx.out(), "[{}]:{}", ep.address().to_string(), ep.port());
        return fmt::format_to(ctx.out(), "{}:{}", ep.address().to_string(), ep.port());
    }
};

template <>
struct fmt::formatter<wharf::CloseStatus> : fmt::formatter<std::string_view> {
    template <class Ctx>
    auto format(wharf::CloseStatus s, Ctx& ctx) const
    {
        return fmt::format_to(ctx.out(), "{} ({})", static_cast<int>(s), wharf::closeStatusName(s));
    }
};
