// Device status: online needs fw, board and buttons; the offline Will may carry nothing else.
#include <catch2/catch.hpp>

#include "protocol_test.hpp"

namespace kiosk::protocol {
namespace {

using testing::outcome;

TEST_CASE("the spec's online status parses to its values", "[protocol][status]") {
  const auto s = parse_status(R"({"state": "online", "fw": "0.1.0", "board": "rpi-zero-2w", "buttons": 4})");
  REQUIRE(s);
  CHECK(s->state == DeviceState::online);
  CHECK(s->fw == "0.1.0");
  CHECK(s->board == "rpi-zero-2w");
  CHECK(s->buttons == 4);
}

TEST_CASE("the offline Last Will is just the state", "[protocol][status]") {
  const auto s = parse_status(R"({"state": "offline"})");
  REQUIRE(s);
  CHECK(s->state == DeviceState::offline);
  CHECK_FALSE(s->fw);
  CHECK_FALSE(s->board);
  CHECK_FALSE(s->buttons);
  CHECK(to_json(*s) == R"({"state":"offline"})");
  CHECK(to_json(Status{}) == R"({"state":"offline"})");
}

TEST_CASE("an online status serializes compactly and parses back equal", "[protocol][status]") {
  const Status s{DeviceState::online, "1.2.3 dev+1", "sim", 64};
  CHECK(to_json(s) == R"({"state":"online","fw":"1.2.3 dev+1","board":"sim","buttons":64})");
  CHECK(*parse_status(to_json(s)) == s);
}

TEST_CASE("an online status without fw, board or buttons is refused", "[protocol][status]") {
  CHECK(outcome(parse_status(R"({"state":"online","board":"b","buttons":1})")) == "status.fw: is missing (required when online)");
  CHECK(outcome(parse_status(R"({"state":"online","fw":"1","buttons":1})")) == "status.board: is missing (required when online)");
  CHECK(outcome(parse_status(R"({"state":"online","fw":"1","board":"b"})")) == "status.buttons: is missing (required when online)");
}

TEST_CASE("the status state is online or offline, spelled exactly", "[protocol][status]") {
  CHECK(outcome(parse_status("{}")) == "status.state: is missing");
  CHECK(outcome(parse_status(R"({"state":"OFFLINE"})")) == "status.state: \"OFFLINE\" is not one of online, offline");
  CHECK(outcome(parse_status(R"({"state":false})")) == "status.state: expected a string, got false");
  CHECK(to_string(DeviceState::online) == "online");
  CHECK(to_string(DeviceState::offline) == "offline");
}

TEST_CASE("fw is 1 to 32 printable ASCII characters", "[protocol][status]") {
  const auto with_fw = [](const std::string& fw) {
    return parse_status(R"({"state":"online","board":"b","buttons":1,"fw":")" + fw + "\"}");
  };
  CHECK(with_fw("~ !"));
  CHECK(with_fw(std::string(32, 'v')));
  CHECK(outcome(with_fw(std::string(33, 'v'))) == "status.fw: is 33 bytes long (expected 1..32 printable ASCII characters)");
  CHECK(outcome(with_fw("")) == "status.fw: is empty (expected 1..32 printable ASCII characters)");
  CHECK(outcome(with_fw("1\\t2")) ==
        "status.fw: \"1\\x092\" has a non-printable character (expected 1..32 printable ASCII characters)");
  CHECK(outcome(with_fw("\\u007f")) ==
        "status.fw: \"\\x7f\" has a non-printable character (expected 1..32 printable ASCII characters)");
}

TEST_CASE("board is an identifier and buttons is 1 to 64", "[protocol][status]") {
  CHECK(outcome(parse_status(R"({"state":"online","fw":"1","board":"Pi 4","buttons":1})")).rfind(
            "status.board: \"Pi 4\" is not a valid identifier", 0) == 0);
  CHECK(outcome(parse_status(R"({"state":"online","fw":"1","board":"b","buttons":0})")) == "status.buttons: 0 is outside 1..64");
  CHECK(outcome(parse_status(R"({"state":"online","fw":"1","board":"b","buttons":65})")) == "status.buttons: 65 is outside 1..64");
  CHECK(parse_status(R"({"state":"online","fw":"1","board":"b","buttons":64})"));
  CHECK(parse_status(R"({"state":"online","fw":"1","board":"b","buttons":1})"));
}

TEST_CASE("an offline status may carry details, which are still checked", "[protocol][status]") {
  const auto s = parse_status(R"({"state":"offline","fw":"0.1.0","board":"sim","buttons":4})");
  REQUIRE(s);
  CHECK(s->buttons == 4);
  CHECK(outcome(parse_status(R"({"state":"offline","fw":""})")) == "status.fw: is empty (expected 1..32 printable ASCII characters)");
}

TEST_CASE("a status of more than 1024 bytes is refused", "[protocol][status]") {
  std::string text = R"({"state":"offline"})";
  text.insert(1, 1024 - text.size(), ' ');
  CHECK(parse_status(text));
  text += ' ';
  CHECK(outcome(parse_status(text)) == "status: 1025 bytes exceeds the 1024-byte limit");
}

}  // namespace
}  // namespace kiosk::protocol
