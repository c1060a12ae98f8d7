// Small, exact recognisers for the few SQL statements the pooler must understand in a simple
// Query, with no general SQL parser: anything not exactly recognised is "no".
#pragma once

#include <string_view>

namespace sluice::proto {

// COMMIT, END, ROLLBACK or ABORT (with an optional WORK / TRANSACTION and a trailing ';'),
// alone in the query: what ends a failed transaction block.
bool endsTransactionBlock(std::string_view sql);

}  // namespace sluice::proto
