// wharf::iequals (declared in wharf/Http.hpp): defined at the bottom of the layers, since
// the protocol core compares extension names with it as the handler tree compares headers.
#include <wharf/Http.hpp>

#include <algorithm>

namespace wharf {

bool iequals(std::string_view a, std::string_view b) noexcept
{
    auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; };
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

}  // namespace wharf
