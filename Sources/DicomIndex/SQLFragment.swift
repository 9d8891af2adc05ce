/// The form of a piece of WHERE clause: which test on which column, not the values it tests.
/// Its SQL text depends on nothing else, so planning a search makes the shape (a few words)
/// and its bindings, and writes the text only for a shape it has not seen (SearchPlanner caches
/// the statement text per shape).
enum SQLShape: Hashable, Sendable {
    /// `e = ?`
    case equal(String)
    /// `e IN (?, ?, …)`, `count` values.
    case oneOf(String, count: Int)
    /// `e GLOB ?`
    case glob(String)
    /// `(e >= ? AND e < ? AND e GLOB ?)`: the literal prefix of a pattern as an index range.
    case prefixGlob(String)
    /// A pattern against each value of a multi-valued column (a substring test first).
    case anyValueGlob(String)
    /// `instr('\' || e || '\', ?) > 0`: one value of a multi-valued column.
    case anyValueEqual(String)
    /// `e BETWEEN ? AND ?`, `e >= ?`, `e <= ?`
    case between(String), atLeast(String), atMost(String)
    /// `(e >= ? OR e <= ?)`: a time range across midnight.
    case outside(String)
    /// `1`
    case always
    /// Studies with a series whose `ms.modality` passes the test: an IN list over the series
    /// table, or EXISTS per candidate study.
    indirect case studiesWithSeries(SQLShape, asList: Bool)
    /// `((a) OR (b) …)`, `((a) AND (b) …)`, two or more parts.
    case any([SQLShape]), all([SQLShape])

    var sql: String {
        var sql = ""
        write(to: &sql)
        return sql
    }

    func write(to sql: inout String) {
        switch self {
        case .equal(let e): sql += "\(e) = ?"
        case .oneOf(let e, let count): sql += "\(e) IN (\(repeatElement("?", count: count).joined(separator: ", ")))"
        case .glob(let e): sql += "\(e) GLOB ?"
        case .prefixGlob(let e): sql += "(\(e) >= ? AND \(e) < ? AND \(e) GLOB ?)"
        case .anyValueGlob(let e):
            let split = "WITH RECURSIVE split(v, rest) AS (SELECT NULL, \(e) || '\\' UNION ALL "
                + "SELECT substr(rest, 1, instr(rest, '\\') - 1), substr(rest, instr(rest, '\\') + 1) FROM split WHERE rest <> '')"
            sql += "(instr(\(e), '\\') = 0 AND \(e) GLOB ?) OR (instr(\(e), '\\') > 0 AND \(e) GLOB ? "
                + "AND EXISTS (\(split) SELECT 1 FROM split WHERE v GLOB ?))"
        case .anyValueEqual(let e): sql += "instr('\\' || \(e) || '\\', ?) > 0"
        case .between(let e): sql += "\(e) BETWEEN ? AND ?"
        case .atLeast(let e): sql += "\(e) >= ?"
        case .atMost(let e): sql += "\(e) <= ?"
        case .outside(let e): sql += "(\(e) >= ? OR \(e) <= ?)"
        case .always: sql += "1"
        case .studiesWithSeries(let test, let asList):
            if asList {
                sql += "st.study_pk IN (SELECT ms.study_pk FROM series ms WHERE "
                test.write(to: &sql)
                sql += ")"
            } else {
                sql += "EXISTS (SELECT 1 FROM series ms WHERE ms.study_pk = st.study_pk AND ("
                test.write(to: &sql)
                sql += "))"
            }
        case .any(let parts): Self.write(parts, separator: " OR ", to: &sql)
        case .all(let parts): Self.write(parts, separator: " AND ", to: &sql)
        }
    }

    private static func write(_ parts: [SQLShape], separator: String, to sql: inout String) {
        sql += "("
        for (i, part) in parts.enumerated() {
            if i > 0 { sql += separator }
            sql += "("
            part.write(to: &sql)
            sql += ")"
        }
        sql += ")"
    }
}

/// A piece of SQL, as its shape, with the values its `?` parameters take, in order.
struct SQLFragment: Sendable {
    var shape: SQLShape
    var bindings: [SQLValue]

    init(_ shape: SQLShape, _ bindings: [SQLValue] = []) {
        self.shape = shape
        self.bindings = bindings
    }

    var sql: String { shape.sql }

    /// `((a) OR (b) …)`; nil when there is nothing to join.
    static func any(_ parts: [SQLFragment]) -> SQLFragment? { joined(parts, SQLShape.any) }

    /// `((a) AND (b) …)`; nil when there is nothing to join.
    static func all(_ parts: [SQLFragment]) -> SQLFragment? { joined(parts, SQLShape.all) }

    private static func joined(_ parts: [SQLFragment], _ shape: ([SQLShape]) -> SQLShape) -> SQLFragment? {
        guard parts.count > 1 else { return parts.first }
        var bindings: [SQLValue] = []
        bindings.reserveCapacity(parts.reduce(0) { $0 + $1.bindings.count })
        for part in parts { bindings += part.bindings }
        return SQLFragment(shape(parts.map(\.shape)), bindings)
    }
}
