#pragma once
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <doctest/doctest.h>
#include <wharf/wharf.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>
