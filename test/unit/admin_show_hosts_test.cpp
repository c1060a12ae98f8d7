// SHOW HOSTS, the host SHOW DATABASES reports as in use, and their Prometheus samples.
#include <gtest/gtest.h>

#include "admin/show.h"
#include "admin/show_hosts.h"
#include "config/config.h"
#include "metrics/prometheus.h"

namespace {

using namespace sluice;

// Column `name` of row `row` as text ("<null>" for NULL).
std::string cell(const admin::ResultSet& set, size_t row, const std::string& name) {
    for (size_t c = 0; c < set.columnCount(); ++c)
        if (set.columnName(c) == name) return set.rows().at(row)[c].value_or("<null>");
    return "<no column " + name + ">";
}

class ShowHosts : public ::testing::Test {
protected:
    void SetUp() override {
        auto loaded = config::parseConfigString("[databases]\n"
                                                "single = host=10.0.0.9 port=5432\n"
                                                "rw = host=h1,h2 port=1,2 target_session_attrs=read-write\n"
                                                "ro = host=h1,h2 port=1,2 target_session_attrs=prefer-standby\n"
                                                "[pooler]\nlisten_port = 6432\n",
                                                "test.ini");
        ASSERT_TRUE(loaded.ok()) << loaded.error().message;
        config_ = loaded.value();
        auto hosts = registry_.hostsFor({{"h1", 1}, {"h2", 2}}, true);
        hosts[0]->reportFailure(60);                                        // the old primary: down
        hosts[1]->reportProbe(discovery::Role::Primary, false, 2, 0, 0.0015);  // promoted, timeline 2
    }
    config::Config config_;
    discovery::HostRegistry registry_;
};

TEST_F(ShowHosts, ListsEveryHostOfMultiHostEntriesWithWhatIsKnown) {
    const auto rows = admin::hostRows(config_, registry_);
    ASSERT_EQ(rows.size(), 4u);  // "single" has one host and no target_session_attrs: not listed
    const admin::ResultSet set = admin::showHosts(rows);
    // Entries come in configuration (name) order: ro, rw.
    EXPECT_EQ(cell(set, 0, "database"), "ro");
    EXPECT_EQ(cell(set, 2, "database"), "rw");
    EXPECT_EQ(cell(set, 2, "host"), "h1");
    EXPECT_EQ(cell(set, 2, "port"), "1");
    EXPECT_EQ(cell(set, 2, "state"), "down");
    EXPECT_EQ(cell(set, 2, "up"), "0");
    EXPECT_EQ(cell(set, 2, "in_use"), "0");
    EXPECT_EQ(cell(set, 3, "role"), "primary");
    EXPECT_EQ(cell(set, 3, "state"), "up");
    EXPECT_EQ(cell(set, 3, "timeline"), "2");
    EXPECT_EQ(cell(set, 3, "probe_latency_ms"), "1.500");
    EXPECT_EQ(cell(set, 3, "replication_lag_s"), "<null>");  // only standbys have a lag
    EXPECT_EQ(cell(set, 3, "in_use"), "1");
    EXPECT_EQ(cell(set, 3, "is_primary"), "1");
}

TEST_F(ShowHosts, FencedPrimaryIsShownAsSuchAndNeverInUse) {
    auto h1 = registry_.find({"h1", 1});
    h1->reportProbe(discovery::Role::Primary, false, 1, 0, 0.001, registry_.fences(*h1, 1));
    const admin::ResultSet set = admin::showHosts(admin::hostRows(config_, registry_));
    EXPECT_EQ(cell(set, 2, "state"), "fenced");
    EXPECT_EQ(cell(set, 2, "is_primary"), "0");
    EXPECT_EQ(cell(set, 2, "in_use"), "0");
    EXPECT_EQ(cell(set, 3, "in_use"), "1");
}

TEST_F(ShowHosts, ShowDatabasesReportsTheHostInUse) {
    const auto inUse = admin::hostsInUse(admin::hostRows(config_, registry_));
    const admin::ResultSet set = admin::showDatabases({}, config_, {}, inUse);
    for (size_t row = 0; row < set.rows().size(); ++row) {
        const std::string name = cell(set, row, "name");
        if (name == "rw" || name == "ro") {
            EXPECT_EQ(cell(set, row, "host"), "h2") << name;
            EXPECT_EQ(cell(set, row, "port"), "2") << name;
        } else if (name == "single") {
            EXPECT_EQ(cell(set, row, "host"), "10.0.0.9");
        }
    }
}

TEST_F(ShowHosts, AFailoverInProgressIsTimedFromTheFirstFailure) {
    EXPECT_FALSE(admin::failingOverWithin(admin::hostRows(config_, registry_), "rw", 30)) << "h2 serves";
    registry_.find({"h2", 2})->reportFailure(60);  // the new primary is gone too: no host qualifies
    const auto rows = admin::hostRows(config_, registry_);
    EXPECT_TRUE(admin::failingOverWithin(rows, "rw", 30));
    EXPECT_FALSE(admin::failingOverWithin(rows, "rw", 1e-9)) << "past the wait limit";
    EXPECT_FALSE(admin::failingOverWithin(rows, "single", 30)) << "not a multi-host database";
}

TEST_F(ShowHosts, MetricsHaveOneSamplePerHostLabelledByHostAndPort) {
    const admin::ResultSet hosts = admin::showHosts(admin::hostRows(config_, registry_));
    metrics::ProcessFacts facts;
    facts.failovers = 1;
    const std::string text = metrics::prometheusText({{"hosts", &hosts}}, facts);
    EXPECT_NE(text.find("sluice_hosts_up{database=\"rw\",host=\"h2\",port=\"2\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("sluice_hosts_is_primary{database=\"rw\",host=\"h1\",port=\"1\"} 0\n"), std::string::npos);
    EXPECT_EQ(text.find("sluice_hosts_port"), std::string::npos) << "a label column is not a metric";
    EXPECT_NE(text.find("sluice_failovers_total 1\n"), std::string::npos);
}

}  // namespace
