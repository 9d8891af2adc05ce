/// The values of one row's columns with their text in one byte buffer: what the parsing threads
/// compute for each level of an instance and the writer binds, SQLite reading the text in place.
/// An array of SQLValue cost a String allocation per value on the parsing side, and a copy of
/// each text inside SQLite (SQLITE_TRANSIENT) on the writer's.
public struct ColumnValues: Sendable, Equatable {
    enum Value: Sendable, Equatable {
        case null
        case integer(Int64)
        case real(Double)
        /// UTF-8 bytes `start ..< start + count` of `text`.
        case text(start: Int, count: Int)
        /// Bytes `start ..< start + count` of `text`, bound as a blob.
        case blob(start: Int, count: Int)
    }

    private(set) var values: [Value] = []
    private(set) var text: [UInt8] = []

    /// No values, nothing reserved (a placeholder, to be replaced).
    init() {}

    init(capacity: Int) {
        values.reserveCapacity(capacity)
        text.reserveCapacity(capacity * 16)
    }

    public var count: Int { values.count }

    /// Value `i` as an SQLValue (tests, messages).
    public subscript(i: Int) -> SQLValue {
        switch values[i] {
        case .null: return .null
        case .integer(let v): return .integer(v)
        case .real(let v): return .real(v)
        case .text(let start, let count): return .text(String(decoding: text[start ..< start + count], as: UTF8.self))
        case .blob(let start, let count): return .blob(Array(text[start ..< start + count]))
        }
    }

    mutating func appendNull() { values.append(.null) }

    mutating func append(_ value: Int?) {
        values.append(value.map { .integer(Int64($0)) } ?? .null)
    }

    /// UTF-8 bytes as one text value.
    mutating func append<Bytes: Collection<UInt8>>(utf8 bytes: Bytes) {
        let start = text.count
        text.append(contentsOf: bytes)
        values.append(.text(start: start, count: text.count - start))
    }

    mutating func append(_ string: String?) {
        guard let string else { return appendNull() }
        append(utf8: string.utf8)
    }

    mutating func append(_ value: SQLValue) {
        switch value {
        case .null: appendNull()
        case .integer(let v): values.append(.integer(v))
        case .real(let v): values.append(.real(v))
        case .text(let v): append(utf8: v.utf8)
        case .blob(let bytes):
            let start = text.count
            text.append(contentsOf: bytes)
            values.append(.blob(start: start, count: bytes.count))
        }
    }

    /// A text value written by `body` into the buffer (nil when `body` returns false: NULL).
    /// Returns where its bytes are (nil for NULL).
    @discardableResult
    mutating func appendText(_ body: (inout [UInt8]) -> Bool) -> Range<Int>? {
        let start = text.count
        if body(&text) {
            values.append(.text(start: start, count: text.count - start))
            return start ..< text.count
        }
        if text.count > start { text.removeSubrange(start...) }
        values.append(.null)
        return nil
    }

    /// The bytes of a text appended before (`appendText`'s range).
    func withText<R>(_ range: Range<Int>, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        text.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[range])) }
    }

    func string(_ range: Range<Int>) -> String { withText(range) { String(decoding: $0, as: UTF8.self) } }
}
