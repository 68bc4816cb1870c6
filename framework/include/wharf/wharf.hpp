#pragma once
// Everything a wharf user needs.

#include <wharf/CloseStatus.hpp>
#include <wharf/Defaults.hpp>
#include <wharf/Error.hpp>
#include <wharf/Handler.hpp>
#include <wharf/Http.hpp>
#include <wharf/Log.hpp>
#include <wharf/Server.hpp>
#include <wharf/ServletContextHandler.hpp>
#include <wharf/Session.hpp>
#include <wharf/Upgrade.hpp>
#include <wharf/WebSocketClient.hpp>
#include <wharf/WebSocketListener.hpp>
#include <wharf/WebSocketServletFactory.hpp>
