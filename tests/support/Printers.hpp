#pragma once
// doctest printers for the types tests compare.

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <string_view>

namespace doctest {

template <>
struct StringMaker<std::string_view> {
    static String convert(std::string_view s) { return String(std::string(s).c_str()); }
};

template <class T>
struct StringMaker<std::optional<T>> {
    static String convert(const std::optional<T>& o)
    {
        if (!o) return "nullopt";
        return StringMaker<T>::convert(*o);
    }
};

}  // namespace doctest
