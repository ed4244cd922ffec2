// Result<T>: a parsed value or a precise error (field and reason), never a half-filled struct.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace kiosk::protocol {

// Where parsing failed and why, e.g. field "press.rating", reason "7 is outside 1..4".
struct Error {
  std::string field;
  std::string reason;

  // "press.rating: 7 is outside 1..4" (or just the reason when there is no field).
  std::string message() const {
    return field.empty() ? reason : field + ": " + reason;
  }
  friend bool operator==(const Error&, const Error&) = default;
};

template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit on purpose

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace kiosk::protocol
