// Which host a new server connection goes to: libpq's target_session_attrs over what the
// pooler knows of each host, and load_balance_hosts among those that qualify.
#include <gtest/gtest.h>

#include "discovery/host_choice.h"
#include "discovery/host_registry.h"
#include "proto/sql_words.h"

namespace {

using namespace sluice::discovery;

HostView host(Role role, Health health = Health::Up, double lag = 0) {
    HostView view;
    view.role = role;
    view.health = health;
    view.lagSeconds = lag;
    return view;
}

std::optional<size_t> choose(const std::vector<HostView>& hosts, SessionAttrs attrs,
                             LoadBalance balance = LoadBalance::Disable, double maxLag = 0) {
    uint64_t cursor = 0;
    return chooseHost(hosts, attrs, balance, ChoiceLimits{maxLag}, cursor, 0);
}

TEST(HostChoice, ReadWriteTakesTheKnownPrimaryOverUnknownHosts) {
    std::vector<HostView> hosts = {host(Role::Unknown, Health::Unknown), host(Role::Standby), host(Role::Primary)};
    EXPECT_EQ(choose(hosts, SessionAttrs::ReadWrite), 2u);
    EXPECT_EQ(choose(hosts, SessionAttrs::Primary), 2u);
}

TEST(HostChoice, ReadWriteWithoutAPrimaryTriesUnknownHostsThenWaits) {
    std::vector<HostView> hosts = {host(Role::Standby), host(Role::Unknown, Health::Unknown)};
    EXPECT_EQ(choose(hosts, SessionAttrs::ReadWrite), 1u);
    hosts[1] = host(Role::Unknown, Health::Down);
    EXPECT_EQ(choose(hosts, SessionAttrs::ReadWrite), std::nullopt);
}

TEST(HostChoice, AFencedPrimaryIsNeverChosen) {
    std::vector<HostView> hosts = {host(Role::Primary), host(Role::Primary)};
    hosts[0].fenced = true;
    EXPECT_EQ(choose(hosts, SessionAttrs::ReadWrite), 1u);
    hosts[1].fenced = true;
    EXPECT_EQ(choose(hosts, SessionAttrs::Any), std::nullopt);
}

TEST(HostChoice, ReadOnlyPrimaryDoesNotServeReadWrite) {
    std::vector<HostView> hosts = {host(Role::Primary)};
    hosts[0].readOnly = true;
    EXPECT_EQ(choose(hosts, SessionAttrs::ReadWrite), std::nullopt);
    EXPECT_EQ(choose(hosts, SessionAttrs::Primary), 0u);
    EXPECT_EQ(choose(hosts, SessionAttrs::ReadOnly), 0u);
}

TEST(HostChoice, PreferStandbyFallsBackToThePrimaryAndSkipsLaggingStandbys) {
    std::vector<HostView> hosts = {host(Role::Primary), host(Role::Standby, Health::Up, 30)};
    EXPECT_EQ(choose(hosts, SessionAttrs::PreferStandby), 1u);
    EXPECT_EQ(choose(hosts, SessionAttrs::PreferStandby, LoadBalance::Disable, 10), 0u);
    EXPECT_EQ(choose(hosts, SessionAttrs::Standby, LoadBalance::Disable, 10), std::nullopt);
    hosts[1].health = Health::Down;
    EXPECT_EQ(choose(hosts, SessionAttrs::PreferStandby), 0u);
}

TEST(HostChoice, RoundRobinAndRandomSpreadOverQualifyingHostsOnly) {
    std::vector<HostView> hosts = {host(Role::Standby), host(Role::Primary), host(Role::Standby)};
    uint64_t cursor = 0;
    std::vector<size_t> picked;
    for (int i = 0; i < 4; ++i)
        picked.push_back(*chooseHost(hosts, SessionAttrs::Standby, LoadBalance::RoundRobin, {}, cursor, 0));
    EXPECT_EQ(picked, (std::vector<size_t>{0, 2, 0, 2}));
    EXPECT_EQ(*chooseHost(hosts, SessionAttrs::Standby, LoadBalance::Random, {}, cursor, 7), 2u);
    EXPECT_EQ(choose(hosts, SessionAttrs::Any), 0u);
}

TEST(HostChoice, ServersStayOnlyWhereTheyStillFit) {
    EXPECT_TRUE(stillUsable(SessionAttrs::ReadWrite, host(Role::Primary), {}));
    EXPECT_TRUE(stillUsable(SessionAttrs::ReadWrite, host(Role::Unknown, Health::Unknown), {}));
    EXPECT_FALSE(stillUsable(SessionAttrs::ReadWrite, host(Role::Standby), {}));
    EXPECT_FALSE(stillUsable(SessionAttrs::Any, host(Role::Primary, Health::Down), {}));
    EXPECT_FALSE(stillUsable(SessionAttrs::Standby, host(Role::Standby, Health::Up, 30), {10}));
    EXPECT_TRUE(stillUsable(SessionAttrs::PreferStandby, host(Role::Primary), {}));
}

TEST(HostRegistry, EntriesListingTheSameHostShareItsState) {
    HostRegistry registry;
    auto a = registry.hostsFor({{"h1", 1}, {"h2", 2}}, true);
    auto b = registry.hostsFor({{"h2", 2}, {"h3", 3}}, false);
    EXPECT_EQ(a[1].get(), b[0].get());
    EXPECT_EQ(registry.probedHosts().size(), 2u);  // h3 is listed only by an entry that needs no role
}

TEST(HostRegistry, APrimaryOnALowerTimelineIsFenced) {
    HostRegistry registry;
    auto hosts = registry.hostsFor({{"old", 1}, {"new", 2}}, true);
    hosts[0]->reportProbe(Role::Primary, false, 1, 0, 0.001);
    EXPECT_TRUE(registry.refreshFencing().empty());
    hosts[1]->reportProbe(Role::Primary, false, 2, 0, 0.001);  // promoted: timeline 2
    EXPECT_EQ(registry.refreshFencing().size(), 1u);
    EXPECT_TRUE(hosts[0]->view().fenced);
    EXPECT_FALSE(hosts[1]->view().fenced);
    // The new primary goes away: the old one stays fenced (its timeline is still behind).
    hosts[1]->reportFailure(15);
    registry.refreshFencing();
    EXPECT_TRUE(hosts[0]->view().fenced);
    // Rebuilt as a standby, it serves again.
    hosts[0]->reportProbe(Role::Standby, true, 2, 0, 0.001);
    registry.refreshFencing();
    EXPECT_FALSE(hosts[0]->view().fenced);
}

TEST(HostState, AFailureMarksTheHostDownUntilRetryOrAProbe) {
    HostState state({"h", 1});
    state.reportRole(Role::Primary, false);
    EXPECT_TRUE(state.reportFailure(60));
    EXPECT_EQ(state.view().health, Health::Down);
    EXPECT_EQ(state.view().role, Role::Unknown);
    EXPECT_FALSE(state.reportFailure(60));  // already down: not a new change
    state.reportProbe(Role::Primary, false, 3, 0, 0.002);
    EXPECT_EQ(state.view().health, Health::Up);
    EXPECT_EQ(state.view().timeline, 3);
}

TEST(SqlWords, EndsTransactionBlockIsExact) {
    using sluice::proto::endsTransactionBlock;
    for (const char* yes : {"ROLLBACK", "rollback;", " Commit work ; ", "END", "abort transaction", "COMMIT\n"})
        EXPECT_TRUE(endsTransactionBlock(yes)) << yes;
    for (const char* no : {"", "ROLLBACK TO SAVEPOINT a", "COMMIT PREPARED 'x'", "rollback; select 1", "SELECT 1",
                           "ENDS", "commit -- c", "rollback and chain"})
        EXPECT_FALSE(endsTransactionBlock(no)) << no;
}

TEST(SqlWords, PreparedStatementsInSqlAreRecognisedExactly) {
    using sluice::proto::PreparedSql;
    using sluice::proto::recognisePreparedSql;
    auto prepare = recognisePreparedSql("  prepare Foo (int, text) AS select $1, $2 ;");
    ASSERT_TRUE(prepare);
    EXPECT_EQ(prepare->kind, PreparedSql::Kind::Prepare);
    EXPECT_EQ(prepare->name, "foo");
    EXPECT_EQ(prepare->rest, "(int, text) AS select $1, $2");
    auto quoted = recognisePreparedSql("PREPARE \"My\"\"Q\" AS SELECT 'a;b', $$x;y$$ -- c;\n");
    ASSERT_TRUE(quoted);
    EXPECT_EQ(quoted->name, "My\"Q");
    EXPECT_EQ(sluice::proto::quoteIdentifier(quoted->name), "\"My\"\"Q\"");
    auto execute = recognisePreparedSql("EXECUTE foo(1, 'x;y')");
    ASSERT_TRUE(execute);
    EXPECT_EQ(execute->kind, PreparedSql::Kind::Execute);
    EXPECT_EQ(execute->rest, "(1, 'x;y')");
    EXPECT_EQ(recognisePreparedSql("execute bar")->rest, "");
    EXPECT_EQ(recognisePreparedSql("DEALLOCATE PREPARE foo")->kind, PreparedSql::Kind::Deallocate);
    EXPECT_EQ(recognisePreparedSql("deallocate all;")->kind, PreparedSql::Kind::DeallocateAll);
    EXPECT_EQ(recognisePreparedSql("DEALLOCATE \"ALL\"")->name, "ALL");
    for (const char* no : {"PREPARE foo AS SELECT 1; SELECT 2", "EXECUTE foo(1); DROP TABLE t", "PREPARE foo",
                           "PREPARE foo SELECT 1", "EXECUTE", "DEALLOCATE foo bar", "SELECT 1",
                           "PREPARE foo AS SELECT 'open", "EXECUTE foo 1", "preparex foo AS SELECT 1"})
        EXPECT_FALSE(recognisePreparedSql(no)) << no;
}

}  // namespace
