// permessage-deflate from the client's side (see DeflateOffer.hpp).
#include "protocol/DeflateOffer.hpp"

#include <wharf/Http.hpp>

#include <algorithm>
#include <utility>

namespace wharf::detail {

std::string buildDeflateOffer(const DeflateOffer& offer)
{
    std::string s = "permessage-deflate";
    if (offer.clientNoContextTakeover) s += "; client_no_context_takeover";
    if (offer.serverNoContextTakeover) s += "; server_no_context_takeover";
    if (offer.serverMaxWindowBits < 15)
        s.append("; server_max_window_bits=").append(std::to_string(std::clamp(offer.serverMaxWindowBits, 8, 15)));
    if (offer.offerClientMaxWindowBits) {
        s += "; client_max_window_bits";
        const int ours = std::clamp(offer.clientMaxWindowBits, 9, 15);
        if (ours < 15) s.append("=").append(std::to_string(ours));
    }
    return s;
}

DeflateAnswer checkDeflateAnswer(const std::vector<std::string_view>& headerValues, const DeflateOffer& offer)
{
    DeflateAnswer answer;
    auto failWith = [&](std::string why) {
        answer.params.reset();
        answer.error = std::move(why);
        return answer;
    };
    const int ourWindow = std::clamp(offer.clientMaxWindowBits, 9, 15);
    for (auto header : headerValues) {
        for (auto extension : splitOutsideQuotes(header, ',')) {
            if (extension.empty()) continue;  // "a, , b": empty list elements are allowed
            const auto params = splitOutsideQuotes(extension, ';');
            // RFC 6455 9.1: the server may only answer with extensions the client offered.
            if (!iequals(params[0], "permessage-deflate"))
                return failWith("the server answered with an extension that was not offered: " + std::string(params[0]));
            if (answer.params) return failWith("the server answered with permessage-deflate twice");
            DeflateParams p;
            p.clientMaxWindowBits = ourWindow;
            p.memLevel = std::clamp(offer.memLevel, 1, 9);
            bool seenServerNct = false, seenClientNct = false, seenServerBits = false, seenClientBits = false;
            for (std::size_t i = 1; i < params.size(); ++i) {
                const auto nameValue = splitOutsideQuotes(params[i], '=');
                const auto name = nameValue[0];
                const bool hasValue = nameValue.size() > 1;
                if (nameValue.size() > 2) return failWith("malformed permessage-deflate parameter: " + std::string(params[i]));
                auto repeated = [&](bool& seen) { return std::exchange(seen, true); };
                // RFC 7692 7.1: a client MUST fail the connection on a parameter not defined
                // for a response, an invalid value, or a repeated parameter.
                if (iequals(name, "server_no_context_takeover")) {
                    if (repeated(seenServerNct) || hasValue) return failWith("invalid server_no_context_takeover");
                    p.serverNoContextTakeover = true;  // 7.1.1.1: allowed even when not asked for
                } else if (iequals(name, "client_no_context_takeover")) {
                    if (repeated(seenClientNct) || hasValue) return failWith("invalid client_no_context_takeover");
                    p.clientNoContextTakeover = true;  // 7.1.1.2: the server may demand it
                } else if (iequals(name, "server_max_window_bits")) {
                    const auto bits = hasValue ? parseWindowBits(nameValue[1]) : std::nullopt;
                    if (repeated(seenServerBits) || !bits) return failWith("invalid server_max_window_bits");
                    // 7.1.2.1: the same or a smaller value than we asked for.
                    if (offer.serverMaxWindowBits < 15 && *bits > offer.serverMaxWindowBits)
                        return failWith("server_max_window_bits above the one offered");
                    p.serverMaxWindowBits = *bits;
                } else if (iequals(name, "client_max_window_bits")) {
                    // 7.1.2.2: only in answer to an offer that had it, and with a value.
                    if (!offer.offerClientMaxWindowBits) return failWith("client_max_window_bits was not offered");
                    const auto bits = hasValue ? parseWindowBits(nameValue[1]) : std::nullopt;
                    if (repeated(seenClientBits) || !bits) return failWith("invalid client_max_window_bits");
                    if (*bits > ourWindow) return failWith("client_max_window_bits above the one offered");
                    // zlib's raw deflate has no 8-bit window: a configuration we cannot honour.
                    if (*bits < 9) return failWith("client_max_window_bits=8 is not supported");
                    p.clientMaxWindowBits = *bits;
                } else {
                    return failWith("unknown permessage-deflate parameter: " + std::string(name));
                }
            }
            // 7.1.2.1: a server accepts an offer with server_max_window_bits by answering
            // with it (one that cannot honour it declines the offer instead).
            if (offer.serverMaxWindowBits < 15 && !seenServerBits)
                return failWith("server_max_window_bits was asked for but not answered");
            if (offer.clientNoContextTakeover) p.clientNoContextTakeover = true;  // we promised
            answer.params = p;
        }
    }
    return answer;
}

std::unique_ptr<Deflater> deflaterFor(const DeflateParams& params, Role role)
{
    if (role == Role::Server) return std::make_unique<Deflater>(params);
    return std::make_unique<Deflater>(params.clientMaxWindowBits, params.memLevel, params.clientNoContextTakeover);
}

}  // namespace wharf::detail
