#pragma once
#include <doctest/doctest.h>
#include "support/Printers.hpp"
#include <wharf/wharf.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
