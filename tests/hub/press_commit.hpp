// Tests' shorthand for SqliteStore::commit_presses: per row, was it new (stored, or kept as a seq
// conflict) or a copy of one already stored.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kiosk/hub/sqlite_store.hpp"

namespace kiosk::test {

inline std::optional<std::string> commit_presses(hub::SqliteStore& store, const std::vector<hub::PressRecord>& rows,
                                                 std::vector<bool>& inserted) {
  std::vector<hub::PressOutcome> outcomes;
  auto error = store.commit_presses(rows, outcomes);
  inserted.clear();
  for (const auto& o : outcomes) inserted.push_back(o.fate != hub::PressFate::duplicate);
  return error;
}

}  // namespace kiosk::test
