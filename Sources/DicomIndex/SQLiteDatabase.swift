import CSQLite3

/// SQLITE_TRANSIENT: SQLite copies bound text and blobs.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
/// SQLITE_STATIC: SQLite uses bound text and blobs in place (Statement.withBindings).
private let staticText: sqlite3_destructor_type? = nil

/// A connection to one SQLite database (the only importer of CSQLite3). Not shared between
/// threads: each thread or process opens its own.
public final class SQLiteDatabase {
    public let path: String
    private var handle: OpaquePointer?
    private var statements: [String: Statement] = [:]

    /// Process-wide settings, made once before the first connection.
    private static let configured: Bool = {
        _ = dwc_sqlite3_disable_memory_statistics()
        return true
    }()

    public init(path: String, readOnly: Bool = false, busyTimeoutMilliseconds: Int32 = 30_000) throws {
        _ = Self.configured
        self.path = path
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        var db: OpaquePointer?
        let status = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        handle = db
        guard status == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            handle = nil
            throw IndexError(.database, path: path, "cannot open index: \(message)")
        }
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        sqlite3_extended_result_codes(db, 1)
        // Query planner stability: plans do not depend on bound values. Without it SQLite
        // re-prepares a statement with `column GLOB ?` at every execution (to try the value as
        // an index range), which was 40% of a name search; Matching gives the range itself.
        dwc_sqlite3_enable_qpsg(db)
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    public static var libraryVersion: String { String(cString: sqlite3_libversion()) }

    func error(_ what: String) -> IndexError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed"
        return IndexError(.database, path: path, "\(what): \(message)")
    }

    /// Runs one or more statements without results.
    public func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(handle, sql, nil, nil, &errorMessage) != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? "error"
            sqlite3_free(errorMessage)
            throw IndexError(.database, path: path, "\(message) in: \(sql.prefix(120))")
        }
    }

    /// A prepared statement, cached by its SQL text.
    public func prepare(_ sql: String) throws -> Statement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        let statement = try prepareUncached(sql)
        statements[sql] = statement
        return statement
    }

    /// A prepared statement the caller keeps (hot paths hold their statements rather than
    /// look them up by text).
    public func prepareUncached(_ sql: String) throws -> Statement {
        var raw: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &raw, nil) == SQLITE_OK, let raw else {
            throw error("cannot prepare \(sql.prefix(200))")
        }
        return Statement(raw, database: self)
    }

    /// Runs `body` in a transaction that takes the write lock at once (BEGIN IMMEDIATE), so two
    /// processes writing the same index wait for each other instead of failing mid-way. Inside a
    /// transaction already open (a new index built in one, ArchiveIndex.startBuilding), `body`
    /// becomes part of it.
    public func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        if isInTransaction { return try body() }
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Closes the connection now (statements still held keep it open until they go).
    public func close() {
        statements.removeAll()
        sqlite3_close_v2(handle)
        handle = nil
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    public var changes: Int { Int(sqlite3_changes(handle)) }
}

/// One prepared statement: bind by 1-based index, step, read columns by 0-based index.
public final class Statement {
    private let raw: OpaquePointer
    private unowned let database: SQLiteDatabase

    init(_ raw: OpaquePointer, database: SQLiteDatabase) {
        self.raw = raw
        self.database = database
    }

    deinit { sqlite3_finalize(raw) }

    /// Ends the statement's use: an unfinished SELECT would keep its read transaction (and an
    /// old snapshot) open, which makes a later BEGIN IMMEDIATE fail with SQLITE_BUSY at once.
    public func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    @discardableResult
    public func bind(_ values: [SQLValue]) -> Statement {
        for (i, value) in values.enumerated() { bind(value, at: Int32(i + 1)) }
        return self
    }

    public func bind(_ value: SQLValue, at index: Int32) {
        switch value {
        case .null: sqlite3_bind_null(raw, index)
        case .integer(let v): sqlite3_bind_int64(raw, index, v)
        case .real(let v): sqlite3_bind_double(raw, index, v)
        case .text(var v):
            // With its length: SQLite would otherwise measure every string again (strlen).
            v.withUTF8 { bytes in
                if let base = bytes.baseAddress {
                    sqlite3_bind_text(raw, index, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(bytes.count), transient)
                } else {
                    sqlite3_bind_text(raw, index, "", 0, transient)  // a nil pointer would bind NULL
                }
            }
        case .blob(let v):
            _ = v.withUnsafeBytes { sqlite3_bind_blob(raw, index, $0.baseAddress, Int32($0.count), transient) }
        }
    }

    /// Binds `values` to the parameters from `first` on, with SQLite reading their text in place
    /// (SQLITE_STATIC), runs `body`, then clears every binding: the pointers are valid only
    /// inside this call.
    func withBindings<R>(_ values: ColumnValues, from first: Int32, _ body: () throws -> R) rethrows -> R {
        try values.text.withUnsafeBufferPointer { text in
            defer { sqlite3_clear_bindings(raw) }
            var index = first
            for value in values.values {
                switch value {
                case .null: sqlite3_bind_null(raw, index)
                case .integer(let v): sqlite3_bind_int64(raw, index, v)
                case .real(let v): sqlite3_bind_double(raw, index, v)
                case .text(let start, let count):
                    if count == 0 {
                        sqlite3_bind_text(raw, index, "", 0, transient)  // a buffer without storage has no address
                    } else {
                        UnsafeRawPointer(text.baseAddress! + start).withMemoryRebound(to: CChar.self, capacity: count) {
                            _ = sqlite3_bind_text(raw, index, $0, Int32(count), staticText)
                        }
                    }
                case .blob(let start, let count):
                    if count == 0 {
                        sqlite3_bind_zeroblob(raw, index, 0)
                    } else {
                        sqlite3_bind_blob(raw, index, text.baseAddress! + start, Int32(count), staticText)
                    }
                }
                index += 1
            }
            return try body()
        }
    }

    /// Advances to the next row; false when done.
    public func step() throws -> Bool {
        switch sqlite3_step(raw) {
        case SQLITE_ROW: return true
        case SQLITE_DONE:
            sqlite3_reset(raw)
            return false
        default:
            let error = database.error("query failed")
            sqlite3_reset(raw)
            throw error
        }
    }

    /// Runs a statement that returns no rows.
    public func run(_ values: [SQLValue] = []) throws {
        bind(values)
        while try step() {}
        sqlite3_reset(raw)
    }

    /// Rows the statement's last run inserted, updated or deleted (sqlite3_changes of its connection).
    public var changes: Int { database.changes }

    public var columnCount: Int32 { sqlite3_column_count(raw) }
    public func columnName(_ i: Int32) -> String { String(cString: sqlite3_column_name(raw, i)) }
    public func isNull(_ i: Int32) -> Bool { sqlite3_column_type(raw, i) == SQLITE_NULL }
    public func int(_ i: Int32) -> Int64 { sqlite3_column_int64(raw, i) }
    public func double(_ i: Int32) -> Double { sqlite3_column_double(raw, i) }

    public func text(_ i: Int32) -> String? {
        guard let p = sqlite3_column_text(raw, i) else { return nil }
        return String(cString: p)
    }

    /// The text of a column as the bytes SQLite holds (valid only inside `body`); nil for NULL.
    public func withText<R>(_ i: Int32, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        guard let p = sqlite3_column_text(raw, i) else { return body(nil) }
        return body(UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(raw, i))))
    }

    public func blob(_ i: Int32) -> [UInt8]? {
        let count = Int(sqlite3_column_bytes(raw, i))
        guard let p = sqlite3_column_blob(raw, i) else { return count == 0 && !isNull(i) ? [] : nil }
        return Array(UnsafeRawBufferPointer(start: p, count: count))
    }
}

public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public init(_ text: String?) { self = text.map { .text($0) } ?? .null }
    public init(_ int: Int?) { self = int.map { .integer(Int64($0)) } ?? .null }
}
