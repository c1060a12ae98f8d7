// A value or an error, for module boundaries (DESIGN §8): errors a client may see carry a SQLSTATE.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace sluice {

struct Error {
    Error(std::string message, std::string sqlstate = {}, std::string detail = {})
        : message(std::move(message)), sqlstate(std::move(sqlstate)), detail(std::move(detail)) {}
    std::string message;
    std::string sqlstate;  // empty when the error never reaches a PostgreSQL client
    std::string detail;    // more precision for the ErrorResponse's DETAIL, when there is any
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::move(value)) {}
    Result(Error error) : state_(std::move(error)) {}

    bool ok() const { return std::holds_alternative<T>(state_); }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<T>(state_); }
    const T& value() const { return std::get<T>(state_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<Error>(state_); }

private:
    std::variant<T, Error> state_;
};

// For operations that only succeed or fail.
struct Unit {};
using Status = Result<Unit>;
inline Status okStatus() { return Unit{}; }

}  // namespace sluice
