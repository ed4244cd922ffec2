// Press: the message that must never be lost; every field, range edge, type rule and the size limit.
#include <catch2/catch.hpp>

#include "protocol_test.hpp"

namespace kiosk::protocol {
namespace {

using testing::object_with;
using testing::outcome;

// A valid press with one member replaced (or removed when value is empty).
std::string press_with(std::string_view key, std::string_view value) {
  std::initializer_list<std::pair<std::string_view, std::string_view>> base = {
      {"seq", "1042"}, {"button", "0"}, {"rating", "1"}, {"scale", "4"}, {"age_ms", "0"}};
  std::string out = "{";
  bool replaced = false;
  for (const auto& [k, v] : base) {
    if (k == key) {
      replaced = true;
      if (value.empty()) continue;
    }
    if (out.size() > 1) out += ',';
    // append, not "literal" + std::string: g++ 12 -O2 warns about the latter (GCC bug 105329).
    out.append("\"").append(k).append("\":").append(k == key ? value : v);
  }
  if (!replaced) out.append(",\"").append(key).append("\":").append(value);
  return out + "}";
}

TEST_CASE("the spec's press example parses to its values", "[protocol][press]") {
  const auto p = parse_press(R"({"seq": 1042, "button": 0, "rating": 1, "scale": 4, "age_ms": 0})");
  REQUIRE(p);
  CHECK(p->seq == 1042);
  CHECK(p->button == 0);
  CHECK(p->rating == 1);
  CHECK(p->scale == 4);
  CHECK(p->age_ms == 0);
  CHECK(p->flags.empty());
  CHECK_FALSE(p->is_repeat());
}

TEST_CASE("a press serializes compactly and parses back equal", "[protocol][press]") {
  Press p{77, 2, 3, 5, 1500, {"repeat"}};
  const std::string json = to_json(p);
  CHECK(json == R"({"seq":77,"button":2,"rating":3,"scale":5,"age_ms":1500,"flags":["repeat"]})");
  CHECK(*parse_press(json) == p);
}

TEST_CASE("a press with the repeat flag is a repeat", "[protocol][press]") {
  CHECK(parse_press(press_with("flags", R"(["repeat"])"))->is_repeat());
  CHECK_FALSE(parse_press(press_with("flags", R"(["other"])"))->is_repeat());
  CHECK(Press{1, 0, 1, 2, 0, {"x", std::string(kRepeatFlag)}}.is_repeat());
}

TEST_CASE("every required press field is reported when missing", "[protocol][press]") {
  for (const std::string_view field : {"seq", "button", "rating", "scale", "age_ms"}) {
    INFO(field);
    CHECK(outcome(parse_press(press_with(field, ""))) == "press." + std::string(field) + ": is missing");
  }
}

TEST_CASE("a rating outside 1..scale is refused with both bounds", "[protocol][press]") {
  CHECK(outcome(parse_press(press_with("rating", "7"))) == "press.rating: 7 is outside 1..4");
  CHECK(outcome(parse_press(press_with("rating", "0"))) == "press.rating: 0 is outside 1..4");
  CHECK(outcome(parse_press(press_with("rating", "-1"))) == "press.rating: -1 is outside 1..4");
  CHECK(parse_press(press_with("rating", "4")));
  CHECK(parse_press(press_with("rating", "1")));
}

TEST_CASE("the scale is 2 to 10", "[protocol][press]") {
  CHECK(outcome(parse_press(press_with("scale", "1"))) == "press.scale: 1 is outside 2..10");
  CHECK(outcome(parse_press(press_with("scale", "11"))) == "press.scale: 11 is outside 2..10");
  CHECK(parse_press(object_with({{"seq", "1"}, {"button", "0"}, {"rating", "2"}, {"scale", "2"}, {"age_ms", "0"}})));
  CHECK(parse_press(object_with({{"seq", "1"}, {"button", "0"}, {"rating", "10"}, {"scale", "10"}, {"age_ms", "0"}})));
}

TEST_CASE("the button index is 0 to 63", "[protocol][press]") {
  CHECK(parse_press(press_with("button", "0")));
  CHECK(parse_press(press_with("button", "63")));
  CHECK(outcome(parse_press(press_with("button", "64"))) == "press.button: 64 is outside 0..63");
  CHECK(outcome(parse_press(press_with("button", "-1"))) == "press.button: -1 is negative (expected 0..63)");
}

TEST_CASE("seq is at least 1 and may use all 64 bits", "[protocol][press]") {
  CHECK(parse_press(press_with("seq", "1"))->seq == 1);
  CHECK(parse_press(press_with("seq", "18446744073709551615"))->seq == 18446744073709551615ull);
  CHECK(parse_press(press_with("seq", "9223372036854775808"))->seq == 9223372036854775808ull);
  CHECK(outcome(parse_press(press_with("seq", "0"))) == "press.seq: 0 is less than 1");
  CHECK(outcome(parse_press(press_with("seq", "-9223372036854775808"))) == "press.seq: -9223372036854775808 is less than 1");
  CHECK(outcome(parse_press(press_with("seq", "18446744073709551616"))) ==
        "press.seq: is too large for a 64-bit integer (about 1.8e+19)");
}

TEST_CASE("age_ms is 0 up to 3650 days, so a press kept through a long outage is still accepted",
          "[protocol][press]") {
  CHECK(parse_press(press_with("age_ms", "0"))->age_ms == 0);
  CHECK(parse_press(press_with("age_ms", "2592000001"))->age_ms == 2'592'000'001ull);  // over 30 days
  CHECK(parse_press(press_with("age_ms", "315360000000"))->age_ms == 315'360'000'000ull);
  CHECK(kMaxPressAgeMs == 315'360'000'000ull);
  CHECK(outcome(parse_press(press_with("age_ms", "315360000001"))) ==
        "press.age_ms: 315360000001 is more than 3650 days (315360000000 ms)");
  CHECK(outcome(parse_press(press_with("age_ms", "18446744073709551615"))) ==
        "press.age_ms: 18446744073709551615 is more than 3650 days (315360000000 ms)");
  CHECK(outcome(parse_press(press_with("age_ms", "-1"))) == "press.age_ms: -1 is negative");
}

TEST_CASE("press integers must be JSON integers, not doubles, strings or booleans", "[protocol][press]") {
  CHECK(outcome(parse_press(press_with("rating", "1.5"))) == "press.rating: expected an integer, got 1.5");
  CHECK(outcome(parse_press(press_with("rating", "1.0"))) == "press.rating: expected an integer, got 1.0");
  CHECK(outcome(parse_press(press_with("rating", "1e0"))) == "press.rating: expected an integer, got 1.0");
  CHECK(outcome(parse_press(press_with("rating", "\"1\""))) == "press.rating: expected an integer, got the string \"1\"");
  CHECK(outcome(parse_press(press_with("rating", "true"))) == "press.rating: expected an integer, got true");
  CHECK(outcome(parse_press(press_with("rating", "null"))) == "press.rating: expected an integer, got null");
  CHECK(outcome(parse_press(press_with("rating", "[1]"))) == "press.rating: expected an integer, got an array");
  CHECK(outcome(parse_press(press_with("rating", "{}"))) == "press.rating: expected an integer, got an object");
}

TEST_CASE("press flags are an array of 1 to 32 byte strings", "[protocol][press]") {
  CHECK(parse_press(press_with("flags", "[]"))->flags.empty());
  CHECK(parse_press(press_with("flags", "[\"" + std::string(32, 'f') + "\"]"))->flags.size() == 1);
  CHECK(outcome(parse_press(press_with("flags", "[\"" + std::string(33, 'f') + "\"]"))) ==
        "press.flags[0]: is 33 bytes long (expected 1..32 bytes)");
  CHECK(outcome(parse_press(press_with("flags", "[\"a\",\"\"]"))) == "press.flags[1]: is empty (expected 1..32 bytes)");
  CHECK(outcome(parse_press(press_with("flags", "[null]"))) == "press.flags[0]: expected a string, got null");
  CHECK(outcome(parse_press(press_with("flags", "{}"))) == "press.flags: expected an array of strings, got an object");
}

TEST_CASE("unknown press fields are ignored and not written back", "[protocol][press]") {
  const auto p = parse_press(press_with("future_field", R"({"nested":[1,2,{"x":null}]})"));
  REQUIRE(p);
  CHECK(to_json(*p) == R"({"seq":1042,"button":0,"rating":1,"scale":4,"age_ms":0})");
}

TEST_CASE("a press of more than 1024 bytes is refused before parsing", "[protocol][press]") {
  std::string padded = press_with("seq", "1");
  padded.insert(1, 1024 - padded.size(), ' ');
  CHECK(padded.size() == 1024);
  CHECK(parse_press(padded));
  padded.insert(1, 476, ' ');
  CHECK(outcome(parse_press(padded)) == "press: 1500 bytes exceeds the 1024-byte limit");
  CHECK(outcome(parse_press(std::string(1025, '{'))) == "press: 1025 bytes exceeds the 1024-byte limit");
}

TEST_CASE("a press that is not JSON or not an object names the payload", "[protocol][press]") {
  CHECK(outcome(parse_press("")) == "press: is not valid JSON: incomplete JSON");
  CHECK(outcome(parse_press("{\"seq\":")) == "press: is not valid JSON: incomplete JSON");
  CHECK(outcome(parse_press("{'seq':1}")) == "press: is not valid JSON: syntax error");
  CHECK(outcome(parse_press("[]")) == "press: expected a JSON object, got an array");
  CHECK(outcome(parse_press("1042")) == "press: expected a JSON object, got 1042");
}

TEST_CASE("the first invalid press field in declaration order is the one reported", "[protocol][press]") {
  CHECK(outcome(parse_press(R"({"seq":0,"button":-1,"rating":9,"scale":1})")) == "press.seq: 0 is less than 1");
  CHECK(outcome(parse_press(R"({"seq":1,"button":0,"rating":9,"scale":1})")) == "press.scale: 1 is outside 2..10");
}

}  // namespace
}  // namespace kiosk::protocol
