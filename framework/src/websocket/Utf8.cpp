#include "detail/Utf8.hpp"

#include <cstring>

namespace wharf::detail {

bool Utf8Validator::feed(std::string_view bytes) noexcept
{
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const auto* const end = p + bytes.size();
    while (p < end) {
        if (need_ == 0) {
            // ASCII fast path, eight bytes at a time.
            while (end - p >= 8) {
                std::uint64_t word;
                std::memcpy(&word, p, 8);
                if (word & 0x8080808080808080ull) break;
                p += 8;
            }
            if (p == end) break;
            const unsigned char c = *p++;
            if (c < 0x80) continue;
            // RFC 3629 table 3-7: the first continuation byte's range depends on the lead.
            lower_ = 0x80;
            upper_ = 0xBF;
            if (c >= 0xC2 && c <= 0xDF) need_ = 1;
            else if (c == 0xE0) { need_ = 2; lower_ = 0xA0; }
            else if (c == 0xED) { need_ = 2; upper_ = 0x9F; }  // no surrogates
            else if (c >= 0xE1 && c <= 0xEF) need_ = 2;
            else if (c == 0xF0) { need_ = 3; lower_ = 0x90; }
            else if (c == 0xF4) { need_ = 3; upper_ = 0x8F; }  // nothing above U+10FFFF
            else if (c >= 0xF1 && c <= 0xF3) need_ = 3;
            else return false;  // C0, C1, F5..FF, or a stray continuation byte
            pending_ = 1;
        } else {
            const unsigned char c = *p++;
            if (c < lower_ || c > upper_) return false;
            lower_ = 0x80;
            upper_ = 0xBF;
            --need_;
            pending_ = need_ == 0 ? 0 : static_cast<std::uint8_t>(pending_ + 1);
        }
    }
    return true;
}

bool isValidUtf8(std::string_view bytes) noexcept
{
    Utf8Validator v;
    return v.feed(bytes) && v.complete();
}

}  // namespace wharf::detail
