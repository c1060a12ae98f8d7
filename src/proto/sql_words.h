// Small, exact recognisers for the few SQL statements the pooler must understand in a simple
// Query, with no general SQL parser: anything not exactly recognised is "no" (and goes to the
// server as it is).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice::proto {

// COMMIT, END, ROLLBACK or ABORT (with an optional WORK / TRANSACTION and a trailing ';'),
// alone in the query: what ends a failed transaction block.
bool endsTransactionBlock(std::string_view sql);

// PREPARE, EXECUTE and DEALLOCATE alone in a query (one statement, an optional trailing ';').
struct PreparedSql {
    enum class Kind { Prepare, Execute, Deallocate, DeallocateAll };
    Kind kind;
    std::string name;       // as PostgreSQL names it: unquoted lowercased, quoted as written
    std::string_view rest;  // PREPARE: "[(types)] AS statement"; EXECUTE: "[(arguments)]"; no ';'
};
std::optional<PreparedSql> recognisePreparedSql(std::string_view sql);

// The identifier as SQL must spell it: quoted when it is not a plain lowercase name.
std::string quoteIdentifier(std::string_view name);

}  // namespace sluice::proto
