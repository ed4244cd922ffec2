// Runs every vector in protocol/vectors (the README's examples): one test case per file, naming each vector.
#include <catch2/catch.hpp>

#include "protocol_test.hpp"

namespace kiosk::protocol {
namespace {

using testing::load_vectors;
using testing::outcome;
using testing::str;

// Valid vectors parse, serialize to the canonical "json" and parse back equal; invalid ones
// fail with exactly the recorded message.
template <class T>
void check_payload_vectors(std::string_view file, std::string_view payload, Result<T> (*parse)(std::string_view)) {
  const boost::json::value doc = load_vectors(file);
  REQUIRE(str(doc.at("payload")) == payload);
  const boost::json::array& vectors = doc.at("vectors").as_array();
  REQUIRE(vectors.size() >= 7);
  std::size_t valid = 0;
  for (const boost::json::value& v : vectors) {
    const std::string name = str(v.at("name"));
    const std::string text = str(v.at("payload"));
    INFO("vector " << file << ": \"" << name << "\"");
    const Result<T> r = parse(text);
    if (v.at("valid").as_bool()) {
      ++valid;
      CHECK(outcome(r) == "ok");
      if (!r) continue;
      const std::string json = to_json(*r);
      CHECK(json == str(v.at("json")));
      const Result<T> again = parse(json);
      CHECK(outcome(again) == "ok");
      if (again) CHECK(*again == *r);
    } else {
      CHECK(outcome(r) == str(v.at("error")));
    }
  }
  CHECK(valid >= 1);
  CHECK(valid < vectors.size());
}

TEST_CASE("every press vector parses or fails exactly as recorded", "[protocol][vectors]") {
  check_payload_vectors("press.json", "press", &parse_press);
}

TEST_CASE("every ack vector parses or fails exactly as recorded", "[protocol][vectors]") {
  check_payload_vectors("ack.json", "ack", &parse_ack);
}

TEST_CASE("every status vector parses or fails exactly as recorded", "[protocol][vectors]") {
  check_payload_vectors("status.json", "status", &parse_status);
}

TEST_CASE("every telemetry vector parses or fails exactly as recorded", "[protocol][vectors]") {
  check_payload_vectors("telemetry.json", "telemetry", &parse_telemetry);
}

TEST_CASE("every config vector parses or fails exactly as recorded", "[protocol][vectors]") {
  check_payload_vectors("config.json", "config", &parse_device_config);
}

TEST_CASE("every alert vector parses or fails exactly as recorded", "[protocol][vectors]") {
  check_payload_vectors("alert.json", "alert", &parse_alert);
}

TEST_CASE("every alert ack vector parses or fails exactly as recorded", "[protocol][vectors]") {
  check_payload_vectors("alert_ack.json", "alert_ack", &parse_alert_ack);
}

TEST_CASE("every hub status vector parses or fails exactly as recorded", "[protocol][vectors]") {
  check_payload_vectors("hub_status.json", "hub_status", &parse_hub_status);
}

TEST_CASE("every topic vector parses to its parts or fails exactly as recorded", "[protocol][vectors]") {
  const boost::json::value doc = load_vectors("topics.json");
  const boost::json::array& vectors = doc.at("vectors").as_array();
  REQUIRE(vectors.size() >= 20);
  for (const boost::json::value& v : vectors) {
    const std::string topic = str(v.at("topic"));
    INFO("vector topics.json: \"" << str(v.at("name")) << "\" topic " << topic);
    const Result<Topic> r = parse_topic(topic);
    if (v.at("valid").as_bool()) {
      CHECK(outcome(r) == "ok");
      if (!r) continue;
      CHECK(to_string(r->kind) == str(v.at("kind")));
      CHECK(r->site == str(v.at("site")));
      CHECK(r->device == str(v.at("device")));
      CHECK(r->location == str(v.at("location")));
      CHECK(to_topic(*r) == topic);
    } else {
      CHECK(outcome(r) == str(v.at("error")));
    }
  }
}

TEST_CASE("every time vector parses to its epoch milliseconds or fails exactly as recorded", "[protocol][vectors]") {
  const boost::json::value doc = load_vectors("time.json");
  const boost::json::array& vectors = doc.at("vectors").as_array();
  REQUIRE(vectors.size() >= 20);
  for (const boost::json::value& v : vectors) {
    const std::string text = str(v.at("text"));
    INFO("vector time.json: \"" << str(v.at("name")) << "\" text " << text);
    const Result<WallTime> r = parse_time(text);
    if (v.at("valid").as_bool()) {
      CHECK(outcome(r) == "ok");
      if (!r) continue;
      CHECK(r->time_since_epoch().count() == v.at("epoch_ms").to_number<std::int64_t>());
      CHECK(format_time(*r) == text);
    } else {
      CHECK(outcome(r) == "time: " + str(v.at("error")));
    }
  }
}

TEST_CASE("every identifier vector is accepted or refused as recorded", "[protocol][vectors]") {
  const boost::json::value doc = load_vectors("ids.json");
  const boost::json::array& vectors = doc.at("vectors").as_array();
  REQUIRE(vectors.size() >= 10);
  for (const boost::json::value& v : vectors) {
    const std::string id = str(v.at("id"));
    INFO("vector ids.json: \"" << str(v.at("name")) << "\"");
    CHECK(is_valid_id(id) == v.at("valid").as_bool());
    CHECK(check_id("x", id).has_value() == !v.at("valid").as_bool());
  }
}

}  // namespace
}  // namespace kiosk::protocol
