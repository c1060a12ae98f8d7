#include "admin/result_set.h"

#include <ctime>
#include <stdexcept>

#include <fmt/format.h>

namespace sluice::admin {

namespace {

proto::Column columnOf(std::string_view name, ColumnType type) {
    switch (type) {
        case ColumnType::Int4: return {std::string(name), 23, 4};
        case ColumnType::Int8: return {std::string(name), 20, 8};
        case ColumnType::Numeric: return {std::string(name), 1700, -1};
        case ColumnType::Timestamptz: return {std::string(name), 1184, 8};
        case ColumnType::Bytea: return {std::string(name), 17, -1};
        case ColumnType::Text: break;
    }
    return {std::string(name), 25, -1};
}

}  // namespace

Cell Cell::time(int64_t unixMicros) {
    if (unixMicros == 0) return Cell(nullptr);
    const time_t seconds = static_cast<time_t>(unixMicros / 1000000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    return Cell(fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}+00", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                            utc.tm_hour, utc.tm_min, utc.tm_sec));
}

ResultSet::ResultSet(const Columns& columns) {
    for (const auto& [name, type] : columns) {
        columns_.push_back(columnOf(name, type));
        names_.emplace_back(name);
        types_.push_back(type);
    }
}

void ResultSet::addRow(std::initializer_list<Cell> cells) { addRow(std::vector<Cell>(cells)); }

void ResultSet::addRow(const std::vector<Cell>& cells) {
    // A row shorter or longer than the header is a programming error that psql would choke on.
    if (cells.size() != columns_.size())
        throw std::logic_error(fmt::format("result row has {} values for {} columns", cells.size(), columns_.size()));
    std::vector<std::optional<std::string>> values;
    values.reserve(cells.size());
    for (const Cell& cell : cells) values.push_back(cell.value());
    rows_.push_back(std::move(values));
}

void ResultSet::appendTo(std::string& out, std::string_view tag) const {
    proto::appendRowDescription(out, columns_);
    for (const auto& row : rows_) proto::appendDataRow(out, row);
    proto::appendCommandComplete(out, tag);
}

}  // namespace sluice::admin
