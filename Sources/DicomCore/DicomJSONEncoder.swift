/// How binary values (OB OD OF OL OV OW UN, pixel data) appear in DICOM JSON.
public struct DicomJSONOptions: Sendable {
    /// Values of at most this many bytes are written inline as base64.
    public var inlineThreshold: Int = 1024
    /// Names the BulkDataURI of a larger value; when nil, larger values are written with their
    /// VR only (the value omitted).
    public var bulkDataURI: (@Sendable (DataElement) -> String)?
    /// Loads values the parser left in the source, so they can be inlined.
    public var loadValue: (@Sendable (DataElement) throws -> [UInt8])?
    public var pretty = false

    public init(inlineThreshold: Int = 1024, pretty: Bool = false) {
        self.inlineThreshold = inlineThreshold
        self.pretty = pretty
    }
}

/// The DICOM JSON Model encoder (PS3.18 Annex F.2): keys are 8 uppercase hex digits in
/// ascending order; PN as Alphabetic/Ideographic/Phonetic; IS, DS and binary numbers as JSON
/// numbers; AT as hex strings; sequences nested.
public struct DicomJSONEncoder {
    public var options: DicomJSONOptions
    public init(options: DicomJSONOptions = DicomJSONOptions()) { self.options = options }

    public func encode(_ dataSet: DataSet) throws -> String {
        var out = JSONWriter(pretty: options.pretty)
        try write(dataSet, to: &out)
        return out.string
    }

    public func write(_ dataSet: DataSet, to out: inout JSONWriter) throws {
        out.beginObject()
        for element in dataSet.elements {
            out.key(element.tag.hexString)
            try write(element, in: dataSet, to: &out)
        }
        out.endObject()
    }

    private func write(_ element: DataElement, in dataSet: DataSet, to out: inout JSONWriter) throws {
        out.beginObject()
        out.key("vr")
        out.string(element.vr.rawValue)
        switch element.value {
        case .sequence(let items):
            out.key("Value")
            out.beginArray()
            for item in items { try write(item, to: &out) }
            out.endArray()
        case .encapsulated, .bulk:
            try writeBinary(element, to: &out)
        case .bytes(let bytes):
            // A value of nothing but padding is no value (PS3.18 F.2.5: Value absent).
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0 }) && !(element.vr.isBinary || element.vr.numericWidth > 0) { break }
            if bytes.isEmpty { break }
            if element.vr.isBinary || element.vr == .SQ {
                try writeBinary(element, to: &out)
            } else {
                writeValues(element, bytes: bytes, in: dataSet, to: &out)
            }
        }
        out.endObject()
    }

    private func writeBinary(_ element: DataElement, to out: inout JSONWriter) throws {
        let length: UInt64
        switch element.value {
        case .bytes(let b): length = UInt64(b.count)
        case .bulk(let ref): length = ref.length
        case .encapsulated(let pixels): length = pixels.endOffset - element.valueOffset
        case .sequence: return
        }
        if length == 0 { return }
        if length <= UInt64(options.inlineThreshold) {
            let bytes: [UInt8]
            if case .bytes(let b) = element.value {
                bytes = b
            } else if let load = options.loadValue {
                bytes = try load(element)
            } else {
                return
            }
            out.key("InlineBinary")
            out.string(base64(bytes))
        } else if let uri = options.bulkDataURI {
            out.key("BulkDataURI")
            out.string(uri(element))
        }
    }

    private func writeValues(_ element: DataElement, bytes: [UInt8], in dataSet: DataSet, to out: inout JSONWriter) {
        let vr = element.vr
        switch vr {
        case .PN:
            let values = element.strings(characterSet: dataSet.characterSet) ?? []
            out.key("Value")
            out.beginArray()
            for value in values {
                if value.isEmpty { out.null(); continue }
                let groups = value.split(separator: "=", omittingEmptySubsequences: false)
                out.beginObject()
                // Empty Ideographic and Phonetic groups are left out; Alphabetic is always there.
                for (i, (name, group)) in zip(["Alphabetic", "Ideographic", "Phonetic"], groups).enumerated() where i == 0 || !group.isEmpty {
                    out.key(name)
                    out.string(String(group))
                }
                out.endObject()
            }
            out.endArray()
        case .AT:
            out.key("Value")
            out.beginArray()
            for tag in BinaryValues.integers(bytes[...], vr: .AT, bigEndian: dataSet.isBigEndian) {
                out.string(Tag(rawValue: UInt32(truncatingIfNeeded: tag)).hexString)
            }
            out.endArray()
        case .IS, .DS:
            let values = element.strings(characterSet: .default) ?? []
            out.key("Value")
            out.beginArray()
            for value in values { out.numberText(value, integer: vr == .IS) }
            out.endArray()
        case .US, .SS, .UL, .SL, .SV:
            out.key("Value")
            out.beginArray()
            for n in BinaryValues.integers(bytes[...], vr: vr, bigEndian: dataSet.isBigEndian) { out.raw(String(n)) }
            out.endArray()
        case .UV:
            out.key("Value")
            out.beginArray()
            for n in BinaryValues.unsignedIntegers(bytes[...], bigEndian: dataSet.isBigEndian) { out.raw(String(n)) }
            out.endArray()
        case .FL, .FD:
            out.key("Value")
            out.beginArray()
            for d in BinaryValues.reals(bytes[...], vr: vr, bigEndian: dataSet.isBigEndian) { out.double(d) }
            out.endArray()
        default:
            guard let values = element.strings(characterSet: dataSet.characterSet) else { return }
            out.key("Value")
            out.beginArray()
            for value in values { out.string(value) }
            out.endArray()
        }
    }
}

/// A minimal, fast JSON text builder (RFC 8259 escaping).
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    private let pretty: Bool
    private var depth = 0
    /// Whether the current container already has a member (needs a comma before the next).
    private var hasMember: [Bool] = [false]
    private var afterKey = false

    public init(pretty: Bool = false) {
        self.pretty = pretty
        bytes.reserveCapacity(4096)
    }

    public var string: String { String(decoding: bytes, as: UTF8.self) }

    private mutating func separator() {
        if afterKey { afterKey = false; return }
        if hasMember[hasMember.count - 1] { bytes.append(UInt8(ascii: ",")) }
        hasMember[hasMember.count - 1] = true
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
        hasMember.append(false)
    }

    private mutating func close(_ byte: UInt8) {
        depth -= 1
        let had = hasMember.removeLast()
        if pretty, had { newline() }
        bytes.append(byte)
    }

    public mutating func key(_ key: String) {
        separator()
        appendQuoted(key)
        bytes.append(UInt8(ascii: ":"))
        if pretty { bytes.append(32) }
        afterKey = true
    }

    public mutating func string(_ value: String) {
        separator()
        appendQuoted(value)
    }

    public mutating func null() { raw("null") }

    public mutating func raw(_ text: String) {
        separator()
        bytes.append(contentsOf: text.utf8)
    }

    public mutating func double(_ value: Double) {
        // JSON has no NaN or infinity.
        guard value.isFinite else { null(); return }
        raw(String(value))
    }

    /// A DS or IS value: written as it stands when it is valid JSON number text, else normalised
    /// through Double; an empty value is null, one that is no number a string.
    public mutating func numberText(_ text: String, integer: Bool) {
        if integer, let n = Int(text) { raw(String(n)); return }
        if isJSONNumber(text) {
            raw(text)
        } else if let d = Double(text), d.isFinite {
            raw(String(d))
        } else if text.isEmpty {
            null()
        } else {
            // Not a number at all ("1A"): kept as a string rather than lost.
            string(text)
        }
    }

    private mutating func appendQuoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
            case 10: bytes.append(contentsOf: [92, UInt8(ascii: "n")])
            case 13: bytes.append(contentsOf: [92, UInt8(ascii: "r")])
            case 9: bytes.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(_ text: String) -> Bool {
    let b = Array(text.utf8)
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

/// Base64 (RFC 4648) without line breaks.
public func base64(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var out = [UInt8]()
    out.reserveCapacity((bytes.count + 2) / 3 * 4)
    var i = 0
    while i + 2 < bytes.count {
        let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
        out.append(alphabet[Int(n >> 18 & 63)]); out.append(alphabet[Int(n >> 12 & 63)])
        out.append(alphabet[Int(n >> 6 & 63)]); out.append(alphabet[Int(n & 63)])
        i += 3
    }
    let rest = bytes.count - i
    if rest > 0 {
        let n = UInt32(bytes[i]) << 16 | (rest > 1 ? UInt32(bytes[i + 1]) << 8 : 0)
        out.append(alphabet[Int(n >> 18 & 63)]); out.append(alphabet[Int(n >> 12 & 63)])
        out.append(rest > 1 ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
        out.append(UInt8(ascii: "="))
    }
    return String(decoding: out, as: UTF8.self)
}
