// A result set of the admin console in PostgreSQL's wire format: RowDescription, DataRows,
// CommandComplete. Columns carry PgBouncer's types (numbers as int4/int8/numeric, times as
// timestamptz), so that drivers and pgbouncer_exporter parse them as they parse PgBouncer's.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/builders.h"

namespace sluice::admin {

enum class ColumnType { Text, Int4, Int8, Numeric, Timestamptz, Bytea };

// One value; NULL when made from nullptr or Cell::null().
class Cell {
public:
    Cell(std::string_view text) : value_(std::string(text)) {}
    Cell(const std::string& text) : value_(text) {}
    Cell(const char* text) : value_(text ? std::optional<std::string>(text) : std::nullopt) {}
    Cell(std::nullptr_t) {}
    Cell(int value) : value_(std::to_string(value)) {}
    Cell(long value) : value_(std::to_string(value)) {}
    Cell(long long value) : value_(std::to_string(value)) {}
    Cell(unsigned value) : value_(std::to_string(value)) {}
    Cell(unsigned long value) : value_(std::to_string(value)) {}
    Cell(unsigned long long value) : value_(std::to_string(value)) {}
    Cell(bool) = delete;  // say 0/1 or yes/no explicitly
    template <class T>
    Cell(const std::optional<T>& value) : Cell(value ? Cell(*value) : Cell(nullptr)) {}
    static Cell null() { return Cell(nullptr); }
    // Unix microseconds as PostgreSQL prints a timestamptz in UTC; 0 is NULL.
    static Cell time(int64_t unixMicros);

    const std::optional<std::string>& value() const { return value_; }

private:
    std::optional<std::string> value_;
};

class ResultSet {
public:
    using Columns = std::vector<std::pair<std::string_view, ColumnType>>;
    ResultSet(std::initializer_list<std::pair<std::string_view, ColumnType>> columns) : ResultSet(Columns(columns)) {}
    explicit ResultSet(const Columns& columns);
    void addRow(std::initializer_list<Cell> cells);
    void addRow(const std::vector<Cell>& cells);
    size_t rowCount() const { return rows_.size(); }
    size_t columnCount() const { return columns_.size(); }
    const std::string& columnName(size_t i) const { return names_[i]; }
    ColumnType columnType(size_t i) const { return types_[i]; }
    const std::vector<std::vector<std::optional<std::string>>>& rows() const { return rows_; }
    // RowDescription, the rows, CommandComplete "SHOW" (no ReadyForQuery).
    void appendTo(std::string& out, std::string_view tag = "SHOW") const;

private:
    std::vector<proto::Column> columns_;
    std::vector<std::string> names_;
    std::vector<ColumnType> types_;
    std::vector<std::vector<std::optional<std::string>>> rows_;
};

}  // namespace sluice::admin
