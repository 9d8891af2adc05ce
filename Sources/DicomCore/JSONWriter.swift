/// A minimal, fast JSON text builder (RFC 8259 escaping), appending UTF-8 to one byte array.
///
/// Series metadata writes tens of thousands of small members, so everything here appends bytes
/// directly: no intermediate Strings for keys, tags or integers, and strings are copied in runs
/// between the few bytes that need escaping.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    private let pretty: Bool
    private var depth = 0
    /// The current container already has a member, so the next one needs a comma. (A closed
    /// container is always a member of its parent, so one flag does what a stack would.)
    private var needsComma = false
    private var afterKey = false

    public init(pretty: Bool = false) {
        self.pretty = pretty
        bytes.reserveCapacity(4096)
    }

    public var string: String { String(decoding: bytes, as: UTF8.self) }

    @inline(__always)
    private mutating func separator() {
        if afterKey { afterKey = false; return }
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        if pretty, depth > 0 { newline() }
    }

    private mutating func newline() {
        bytes.append(10)
        for _ in 0..<depth { bytes.append(32); bytes.append(32) }
    }

    public mutating func beginObject() { open(UInt8(ascii: "{")) }
    public mutating func endObject() { close(UInt8(ascii: "}")) }
    public mutating func beginArray() { open(UInt8(ascii: "[")) }
    public mutating func endArray() { close(UInt8(ascii: "]")) }

    private mutating func open(_ byte: UInt8) {
        separator()
        bytes.append(byte)
        depth += 1
        needsComma = false
    }

    private mutating func close(_ byte: UInt8) {
        depth -= 1
        if pretty, needsComma { newline() }
        bytes.append(byte)
        needsComma = true
    }

    public mutating func key(_ key: String) {
        separator()
        appendQuoted(key)
        endKey()
    }

    /// A key of plain ASCII that needs no escaping (a literal such as "vr" or "Value").
    mutating func key(ascii key: StaticString) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        appendLiteral(key)
        bytes.append(UInt8(ascii: "\""))
        endKey()
    }

    /// A tag as a DICOM JSON key: 8 uppercase hex digits.
    public mutating func key(tag: Tag) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        appendHex(tag.rawValue)
        bytes.append(UInt8(ascii: "\""))
        endKey()
    }

    private mutating func endKey() {
        bytes.append(UInt8(ascii: ":"))
        if pretty { bytes.append(32) }
        afterKey = true
    }

    public mutating func string(_ value: String) {
        separator()
        appendQuoted(value)
    }

    /// A string given as UTF-8 bytes, which the caller guarantees are valid UTF-8 (for example
    /// ASCII): they are escaped, not checked.
    public mutating func string(utf8 value: UnsafeBufferPointer<UInt8>) {
        separator()
        appendQuoted(value)
    }

    /// A tag as a JSON string of 8 uppercase hex digits (AT values).
    public mutating func string(tag: Tag) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        appendHex(tag.rawValue)
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func null() {
        separator()
        appendLiteral("null")
    }

    public mutating func raw(_ text: String) {
        separator()
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Bytes that are JSON text already (a number as it stands in the file).
    public mutating func raw(utf8 text: UnsafeBufferPointer<UInt8>) {
        separator()
        bytes.append(contentsOf: text)
    }

    public mutating func integer(_ value: Int) {
        separator()
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            appendDecimal(UInt64(value.magnitude))
        } else {
            appendDecimal(UInt64(value))
        }
    }

    public mutating func integer(_ value: UInt64) {
        separator()
        appendDecimal(value)
    }

    public mutating func double(_ value: Double) {
        // JSON has no NaN or infinity.
        guard value.isFinite else { null(); return }
        // Swift's shortest round-trip form ("1.5", "1e-07").
        raw(value.description)
    }

    /// A DS or IS value: written as it stands when it is valid JSON number text, else normalised
    /// through Double; an empty value is null, one that is no number a string.
    public mutating func numberText(_ text: String, integer: Bool) {
        if integer, let n = Int(text) { self.integer(n); return }
        if isJSONNumber(text) {
            raw(text)
        } else if let d = Double(text), d.isFinite {
            raw(d.description)
        } else if text.isEmpty {
            null()
        } else {
            // Not a number at all ("1A"): kept as a string rather than lost.
            string(text)
        }
    }

    /// As `numberText(_:integer:)`, for a value of ASCII bytes: the common cases (an integer,
    /// valid JSON number text) without making a String.
    public mutating func numberText(ascii text: UnsafeBufferPointer<UInt8>, integer: Bool) {
        if integer, let n = parseInt(text) { self.integer(n); return }
        if isJSONNumber(text) {
            raw(utf8: text)
        } else {
            numberText(String(decoding: text, as: UTF8.self), integer: integer)
        }
    }

    private mutating func appendQuoted(_ text: String) {
        if let done: Void = text.utf8.withContiguousStorageIfAvailable({ appendQuoted($0) }) { return done }
        var copy = text
        copy.withUTF8 { appendQuoted($0) }
    }

    /// Runs of bytes that need no escape are copied whole; only `"`, `\` and control characters
    /// are escaped. Bytes ≥ 0x80 are copied as they are (the text is UTF-8).
    private mutating func appendQuoted(_ text: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        var start = 0
        for i in 0..<text.count {
            let byte = text[i]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if i > start { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[start..<i])) }
            bytes.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
            case 10: bytes.append(UInt8(ascii: "n"))
            case 13: bytes.append(UInt8(ascii: "r"))
            case 9: bytes.append(UInt8(ascii: "t"))
            default:
                bytes.append(UInt8(ascii: "u"))
                appendLowerHex(UInt16(byte))
            }
            start = i + 1
        }
        if start < text.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[start...])) }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendLiteral(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Eight uppercase hex digits, appended at once.
    private mutating func appendHex(_ value: UInt32) {
        var digits: UInt64 = 0
        for i in 0..<8 {
            let nibble = UInt64(value >> UInt32(28 - 4 * i) & 0xF)
            digits |= (nibble < 10 ? 0x30 + nibble : 0x37 + nibble) << UInt64(8 * i)
        }
        withUnsafeBytes(of: digits.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Four lowercase hex digits, as in `\u001b`.
    private mutating func appendLowerHex(_ value: UInt16) {
        for shift in stride(from: 12, through: 0, by: -4) {
            let nibble = UInt8(truncatingIfNeeded: value >> UInt16(shift)) & 0xF
            bytes.append(nibble < 10 ? 0x30 + nibble : 0x57 + nibble)
        }
    }

    private mutating func appendDecimal(_ value: UInt64) {
        if value < 10 { bytes.append(0x30 + UInt8(value)); return }
        // At most 20 digits, written backwards into a fixed buffer.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var n = value, i = buffer.count
            while n > 0 {
                i -= 1
                buffer[i] = 0x30 + UInt8(n % 10)
                n /= 10
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[i...]))
        }
    }
}

/// An integer as Swift's `Int(String)` reads one: optional sign, decimal digits only, in range.
func parseInt(_ text: UnsafeBufferPointer<UInt8>) -> Int? {
    var i = 0
    var negative = false
    if i < text.count, text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "+") {
        negative = text[i] == UInt8(ascii: "-")
        i += 1
    }
    guard i < text.count else { return nil }
    var magnitude: UInt64 = 0
    while i < text.count {
        let digit = text[i] &- 0x30
        guard digit < 10 else { return nil }
        let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
        guard !o1, !o2 else { return nil }
        magnitude = sum
        i += 1
    }
    if negative {
        guard magnitude <= UInt64(Int.max) + 1 else { return nil }
        return magnitude == UInt64(Int.max) + 1 ? Int.min : -Int(magnitude)
    }
    guard magnitude <= UInt64(Int.max) else { return nil }
    return Int(magnitude)
}

/// RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(_ text: String) -> Bool {
    if let result = text.utf8.withContiguousStorageIfAvailable({ isJSONNumber($0) }) { return result }
    return Array(text.utf8).withUnsafeBufferPointer { isJSONNumber($0) }
}

func isJSONNumber(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
    var i = 0
    func digits() -> Int { let s = i; while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1 }; return i - s }
    if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
    guard i < b.count else { return false }
    if b[i] == 48 { i += 1 } else if digits() == 0 { return false }
    if i < b.count, b[i] == UInt8(ascii: ".") { i += 1; if digits() == 0 { return false } }
    if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
        i += 1
        if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
        if digits() == 0 { return false }
    }
    return i == b.count
}
