#pragma once
// One fuzz entry point for everything wharf parses itself. The first input byte picks
// the target, the rest is its input. Shared by the libFuzzer binary (clang) and the
// regression runner that ctest runs with any compiler.

#include <cstddef>
#include <cstdint>

namespace wharf::fuzz {

/// Runs one input; aborts (via a failed check) when an invariant is broken.
void runOne(const std::uint8_t* data, std::size_t size);

}  // namespace wharf::fuzz
