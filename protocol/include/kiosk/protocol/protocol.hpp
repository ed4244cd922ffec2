// The whole v1 wire contract in one include.
#pragma once

#include "kiosk/protocol/ids.hpp"
#include "kiosk/protocol/messages.hpp"
#include "kiosk/protocol/result.hpp"
#include "kiosk/protocol/time.hpp"
#include "kiosk/protocol/topics.hpp"
