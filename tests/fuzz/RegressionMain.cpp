// Runs the fuzz entry point over the committed seed corpus plus pseudo-random inputs
// from a fixed seed, bounded in time, so every build (g++ included) exercises it.
// Usage: wharf_fuzz_regression <corpus-dir> [random-inputs] [max-seconds]

#include "FuzzTargets.hpp"

#include <csignal>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace {

// The input being run, printed in hex when a check aborts, so a failure found by the
// random inputs can be added to the corpus.
const std::string* current = nullptr;

void printInput(int)
{
    static const char hex[] = "0123456789abcdef";
    const char head[] = "failing input (hex): ";
    (void)!write(2, head, sizeof head - 1);
    if (current)
        for (unsigned char c : *current) {
            const char two[2] = {hex[c >> 4], hex[c & 15]};
            (void)!write(2, two, 2);
        }
    (void)!write(2, "\n", 1);
    std::signal(SIGABRT, SIG_DFL);
}

}  // namespace

int main(int argc, char** argv)
{
    std::signal(SIGABRT, printInput);
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s <corpus-dir> [random-inputs] [max-seconds]\n", argv[0]);
        return 2;
    }
    const long randomInputs = argc > 2 ? std::atol(argv[2]) : 20000;
    const double maxSeconds = argc > 3 ? std::atof(argv[3]) : 2.0;
    const auto start = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

    std::vector<std::string> seeds;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(argv[1])) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    if (seeds.empty()) {
        std::fprintf(stderr, "no seed inputs in %s\n", argv[1]);
        return 1;
    }
    for (const auto& s : seeds) {
        current = &s;
        wharf::fuzz::runOne(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
    }

    // Random inputs: mutations of seeds (flip, insert, erase, splice) and pure noise.
    std::mt19937_64 rng(0x77686172);  // fixed seed: reproducible
    long ran = 0;
    for (; ran < randomInputs && elapsed() < maxSeconds; ++ran) {
        std::string s = seeds[rng() % seeds.size()];
        const int edits = 1 + static_cast<int>(rng() % 8);
        for (int e = 0; e < edits; ++e) {
            switch (rng() % 5) {
            case 0: if (!s.empty()) s[rng() % s.size()] = static_cast<char>(rng()); break;
            case 1: s.insert(s.begin() + static_cast<long>(s.empty() ? 0 : rng() % (s.size() + 1)), static_cast<char>(rng())); break;
            case 2: if (s.size() > 1) s.erase(rng() % s.size(), 1 + rng() % 4); break;
            case 3: { const auto& o = seeds[rng() % seeds.size()]; if (!o.empty()) s += o.substr(rng() % o.size()); } break;
            case 4: s.assign(rng() % 64, '\0'); for (auto& c : s) c = static_cast<char>(rng()); if (!s.empty()) s[0] = static_cast<char>(rng() % 6); break;
            }
        }
        current = &s;
        wharf::fuzz::runOne(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
    }
    std::printf("fuzz regression: %zu seeds and %ld random inputs in %.2f s, no invariant broken\n", seeds.size(), ran,
                elapsed());
    return 0;
}
