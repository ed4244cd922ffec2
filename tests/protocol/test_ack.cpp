// Ack: the hub's promise that presses are stored; seqs is 1..1000 integers, each >= 1.
#include <catch2/catch.hpp>

#include "protocol_test.hpp"

namespace kiosk::protocol {
namespace {

using testing::outcome;

std::string seqs_from(std::uint64_t first, std::size_t count) {
  std::string out = "{\"seqs\":[";
  for (std::size_t i = 0; i < count; ++i) {
    if (i) out += ',';
    out += std::to_string(first + i);
  }
  return out + "]}";
}

TEST_CASE("the spec's ack example parses to its seqs in order", "[protocol][ack]") {
  const auto a = parse_ack(R"({"seqs": [1041, 1042]})");
  REQUIRE(a);
  CHECK(a->seqs == std::vector<std::uint64_t>{1041, 1042});
}

TEST_CASE("an ack serializes compactly and parses back equal", "[protocol][ack]") {
  const Ack a{{1, 18446744073709551615ull, 7}};
  CHECK(to_json(a) == R"({"seqs":[1,18446744073709551615,7]})");
  CHECK(*parse_ack(to_json(a)) == a);
}

TEST_CASE("an ack carries 1 to 1000 seqs", "[protocol][ack]") {
  CHECK(parse_ack(seqs_from(1, 1))->seqs.size() == 1);
  CHECK(parse_ack(seqs_from(1, 1000))->seqs.size() == 1000);
  CHECK(outcome(parse_ack(seqs_from(1, 1001))) == "ack.seqs: has 1001 entries (at most 1000)");
  CHECK(outcome(parse_ack(R"({"seqs":[]})")) == "ack.seqs: is empty (expected 1..1000 sequence numbers)");
}

TEST_CASE("an ack without seqs or with seqs of the wrong type is refused", "[protocol][ack]") {
  CHECK(outcome(parse_ack("{}")) == "ack.seqs: is missing");
  CHECK(outcome(parse_ack(R"({"seqs":1})")) == "ack.seqs: expected an array of integers, got 1");
  CHECK(outcome(parse_ack(R"({"seqs":"1,2"})")) == "ack.seqs: expected an array of integers, got the string \"1,2\"");
}

TEST_CASE("each acked seq is an integer of at least 1 and the error names its index", "[protocol][ack]") {
  CHECK(outcome(parse_ack(R"({"seqs":[5,6,0]})")) == "ack.seqs[2]: 0 is less than 1");
  CHECK(outcome(parse_ack(R"({"seqs":[-1]})")) == "ack.seqs[0]: -1 is less than 1");
  CHECK(outcome(parse_ack(R"({"seqs":[1,2.5]})")) == "ack.seqs[1]: expected an integer, got 2.5");
  CHECK(outcome(parse_ack(R"({"seqs":[[1]]})")) == "ack.seqs[0]: expected an integer, got an array");
}

TEST_CASE("an ack may be up to 8192 bytes", "[protocol][ack]") {
  std::string text = seqs_from(1, 1);
  text.insert(1, 8192 - text.size(), ' ');
  CHECK(parse_ack(text));
  text.insert(1, 1, '\n');
  CHECK(outcome(parse_ack(text)) == "ack: 8193 bytes exceeds the 8192-byte limit");
}

}  // namespace
}  // namespace kiosk::protocol
