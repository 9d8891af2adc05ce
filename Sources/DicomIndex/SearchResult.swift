import DicomCore

/// A stored value of a result: text (several values joined by backslash) or an integer.
public enum SearchValue: Sendable, Equatable, CustomStringConvertible {
    case text(String)
    case integer(Int64)

    public var description: String {
        switch self {
        case .text(let text): return text
        case .integer(let n): return String(n)
        }
    }
}

/// One matched study, series or instance: its attributes in ascending tag order.
public struct SearchResult: Sendable {
    /// The returned attributes (the plan's), in ascending tag order.
    public let columns: [SearchColumn]
    /// Each column's value; nil when the index has none (returned zero-length).
    public let values: [SearchValue?]
    /// The file as the index stores it (instance level): relative to the archive root or absolute.
    public let storedPath: String?

    public func value(_ tag: Tag) -> SearchValue? {
        guard let i = columns.firstIndex(where: { $0.tag == tag }) else { return nil }
        return values[i]
    }

    /// The result as a DICOM data set (Specific Character Set ISO_IR 192), for DICOM JSON.
    public var dataSet: DataSet {
        var dataSet = Self.template
        for (column, value) in zip(columns, values) where column.tag != .specificCharacterSet {
            dataSet.set(DataElement(tag: column.tag, vr: column.vr, bytes: Self.bytes(value, vr: column.vr)))
        }
        return dataSet
    }

    /// Text in the index is UTF-8.
    static let characterSet = "ISO_IR 192"
    private static let template = DataSet(elements: [
        DataElement(tag: .specificCharacterSet, vr: .CS, bytes: Array(characterSet.utf8)),
    ])

    static func bytes(_ value: SearchValue?, vr: VR) -> [UInt8] {
        switch value {
        case nil: return []
        case .text(let text)?: return Array(text.utf8)
        case .integer(let n)?:
            switch vr {
            case .US, .SS: return [UInt8(truncatingIfNeeded: n), UInt8(truncatingIfNeeded: n >> 8)]
            case .UL, .SL: return (0..<4).map { UInt8(truncatingIfNeeded: n >> ($0 * 8)) }
            default: return Array(String(n).utf8)
            }
        }
    }
}

/// One row of a search as SQLite holds it, valid only inside the search's callback: the JSON
/// writer reads its values as bytes, without a String or a SearchResult per row.
public struct SearchRow {
    /// What to read per column, without touching the column structs in the loop.
    enum Reader { case text(Int32), integer(Int32), constant(SearchValue?), retrieveURL }

    let statement: Statement
    let readers: [Reader]
    let pathIndex: Int32?
    /// Where StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID are in the statement.
    let uidIndexes: (study: Int32?, series: Int32?, sop: Int32?)
    let retrieveURL: ((SearchRow) -> String?)?
    public let columns: [SearchColumn]
    /// The level of the search.
    public let level: QueryLevel

    /// The file as the index stores it (instance level).
    public var storedPath: String? { pathIndex.flatMap { statement.text($0) } }
    /// The UIDs that place the result (those of its level and above; nil below it).
    public var studyUID: String? { uidIndexes.study.flatMap { statement.text($0) } }
    public var seriesUID: String? { uidIndexes.series.flatMap { statement.text($0) } }
    public var sopInstanceUID: String? { uidIndexes.sop.flatMap { statement.text($0) } }

    /// The value of column `i` as SearchResult has it.
    func value(_ i: Int) -> SearchValue? {
        switch readers[i] {
        case .text(let index): return statement.text(index).map { .text($0) }
        case .integer(let index): return statement.isNull(index) ? nil : .integer(statement.int(index))
        case .constant(let value): return value
        case .retrieveURL:
            guard let retrieveURL, let url = retrieveURL(self) else { return nil }
            return .text(url)
        }
    }

    /// The row as a value that outlives the callback.
    public var result: SearchResult {
        SearchResult(columns: columns, values: readers.indices.map(value), storedPath: storedPath)
    }
}

extension ArchiveIndex {
    /// Runs a planned search: one statement, each row handed to `body` as it comes (nothing is
    /// collected). `retrieveURL` makes the RetrieveURL of a result from its row (its UIDs, an
    /// instance's stored path); without it, or when it gives nil, RetrieveURL is returned empty.
    /// Returns the number of results.
    @discardableResult
    public func search(_ plan: SearchPlan, retrieveURL: ((SearchRow) -> String?)? = nil,
                       _ body: (SearchResult) throws -> Void) throws -> Int {
        try searchRows(plan, retrieveURL: retrieveURL) { try body($0.result) }
    }

    /// The same, rows as SQLite holds them (see SearchRow).
    @discardableResult
    public func searchRows(_ plan: SearchPlan, retrieveURL: ((SearchRow) -> String?)? = nil,
                           _ body: (SearchRow) throws -> Void) throws -> Int {
        let statement = try database.prepare(plan.sql)
        defer { statement.reset() }
        statement.bind(plan.bindings)
        let readers: [SearchRow.Reader] = plan.columns.map { column in
            if let index = column.sqlIndex { return column.isInteger ? .integer(index) : .text(index) }
            switch column.key.source {
            case .specificCharacterSet: return .constant(.text(SearchResult.characterSet))
            case .instanceAvailability: return .constant(.text("ONLINE"))
            case .retrieveURL: return .retrieveURL
            default: return .constant(nil)
            }
        }
        func index(of tag: Tag) -> Int32? { plan.columns.first { $0.tag == tag }?.sqlIndex }
        let row = SearchRow(statement: statement, readers: readers, pathIndex: plan.pathIndex,
                            uidIndexes: (index(of: .studyInstanceUID), index(of: .seriesInstanceUID), index(of: .sopInstanceUID)),
                            retrieveURL: retrieveURL, columns: plan.columns, level: plan.query.level)
        var count = 0
        while try statement.step() {
            try body(row)
            count += 1
        }
        return count
    }

    /// The stored path of every file the matched entities hold, in instance order (for
    /// `--format paths`). Returns the number of files.
    @discardableResult
    public func searchPaths(_ plan: SearchPlan, _ body: (String) throws -> Void) throws -> Int {
        let statement = try database.prepare(plan.pathsSQL)
        defer { statement.reset() }
        statement.bind(plan.pathsBindings)
        var count = 0
        while try statement.step() {
            if let path = statement.text(0) {
                try body(path)
                count += 1
            }
        }
        return count
    }

    /// SQLite's plan of a search's statements (for --debug).
    public func explain(_ plan: SearchPlan, paths: Bool = false) throws -> [String] {
        let statement = try database.prepare("EXPLAIN QUERY PLAN " + (paths ? plan.pathsSQL : plan.sql))
        defer { statement.reset() }
        statement.bind(paths ? plan.pathsBindings : plan.bindings)
        var lines: [String] = []
        while try statement.step() { lines.append(statement.text(3) ?? "") }
        return lines
    }
}
