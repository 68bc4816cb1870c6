// libFuzzer entry (clang only): CXX=clang++ cmake -DWHARF_FUZZ=ON ...
#include "FuzzTargets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    wharf::fuzz::runOne(data, size);
    return 0;
}
