// What an idle client costs (DESIGN §2) is mostly its ClientConn. malloc gives an object its size
// plus an 8-byte header, rounded up to 16: 632 bytes take 640, and 8 more would take 656, i.e.
// 16 more bytes for each of 10,000 idle clients. A field added here must make room elsewhere.
#include <gtest/gtest.h>

#include "conn/client_conn.h"

namespace sluice::conn {
namespace {

TEST(ClientConn, StaysWithinItsMallocSize) { EXPECT_LE(sizeof(ClientConn), 632u); }

}  // namespace
}  // namespace sluice::conn
