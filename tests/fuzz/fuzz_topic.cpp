// libFuzzer target: parse_topic never crashes, and an accepted topic is rebuilt byte for byte by to_topic.
#include "fuzz_round_trip.hpp"

using namespace kiosk::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::as_text(data, size);
  const Result<Topic> t = parse_topic(input);
  if (!t) {
    if (t.error().field != "topic" || t.error().reason.empty()) fuzz::fail("topic error without field or reason", input, t.error().message());
    return 0;
  }
  const std::string rebuilt = to_topic(*t);
  if (rebuilt != input) fuzz::fail("to_topic differs from the parsed topic", input, rebuilt);
  if (!is_valid_id(t->site)) fuzz::fail("accepted an invalid site", input, t->site);
  const Result<Topic> again = parse_topic(rebuilt);
  if (!again || !(*again == *t)) fuzz::fail("rebuilt topic parses differently", input, rebuilt);
  return 0;
}
