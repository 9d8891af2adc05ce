import DicomCore

/// Writes search results as DICOM JSON (PS3.18 F.2), byte for byte what DicomJSONEncoder writes
/// for `SearchResult.dataSet` (compact, or pretty at a given depth), but with each column's key
/// and VR text made once per search instead of once per row, and without building data sets:
/// a million rows stream in seconds. SearchTests compares the two on every kind of value the
/// index returns. (One deliberate difference: non-ASCII text in a VR outside the Specific
/// Character Set, such as CS or UR, is written as the index holds it, where the data set route
/// would read its UTF-8 as the default repertoire.)
public struct SearchResultJSON: Sendable {
    private struct Column: Sendable {
        /// `"ggggeeee":{"vr":"XX"` with the layout's spacing.
        let head: [UInt8]
        let vr: VR
    }

    private let columns: [Column]
    private let pretty: Bool
    /// Nesting of the result object: 0 alone, 1 as a member of an array.
    private let depth: Int

    public init(columns: [SearchColumn], pretty: Bool, depth: Int = 0) {
        self.pretty = pretty
        self.depth = depth
        let memberIndent = pretty ? "\n" + String(repeating: "  ", count: depth + 1) : ""
        let innerIndent = pretty ? "\n" + String(repeating: "  ", count: depth + 2) : ""
        let colon = pretty ? ": " : ":"
        self.columns = columns.map { column in
            let head = memberIndent + "\"\(column.tag.hexString)\"\(colon){" + innerIndent + "\"vr\"\(colon)\"\(column.vr.rawValue)\""
            return Column(head: Array(head.utf8), vr: column.vr)
        }
    }

    /// Appends one result's object (no separator, no newline).
    public func append(_ result: SearchResult, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (i, column) in columns.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: column.head)
            if let value = result.values[i] { appendValue(value, vr: column.vr, to: &out) }
            newline(depth + 1, &out)
            out.append(UInt8(ascii: "}"))
        }
        if !columns.isEmpty { newline(depth, &out) }
        out.append(UInt8(ascii: "}"))
    }

    @inline(__always)
    private func newline(_ level: Int, _ out: inout [UInt8]) {
        guard pretty else { return }
        out.append(10)
        for _ in 0..<level { out.append(32); out.append(32) }
    }

    private func key(_ name: StaticString, _ level: Int, _ out: inout [UInt8]) {
        newline(level, &out)
        out.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
        if pretty { out.append(32) }
    }

    /// `,"Value":[…]` as DicomJSONEncoder.writeValues does for the VRs the index returns.
    private func appendValue(_ value: SearchValue, vr: VR, to out: inout [UInt8]) {
        let valueLevel = depth + 2, itemLevel = depth + 3
        switch value {
        case .integer(let n):
            out.append(UInt8(ascii: ","))
            key("Value", valueLevel, &out)
            out.append(UInt8(ascii: "["))
            newline(itemLevel, &out)
            out.append(contentsOf: String(n).utf8)
            newline(valueLevel, &out)
            out.append(UInt8(ascii: "]"))
        case .text(let text):
            var text = text
            text.withUTF8 { bytes in
                // Nothing but padding is no value.
                guard bytes.contains(where: { $0 != 0x20 && $0 != 0 }) else { return }
                out.append(UInt8(ascii: ","))
                key("Value", valueLevel, &out)
                out.append(UInt8(ascii: "["))
                var first = true
                Self.forEachValue(bytes, vr: vr) { single in
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    newline(itemLevel, &out)
                    if vr == .PN {
                        appendName(single, level: itemLevel, to: &out)
                    } else if vr == .IS || vr == .DS {
                        appendNumber(String(decoding: single, as: UTF8.self), integer: vr == .IS, to: &out)
                    } else {
                        Self.appendQuoted(single, to: &out)
                    }
                }
                newline(valueLevel, &out)
                out.append(UInt8(ascii: "]"))
            }
        }
    }

    /// The values DataElement.strings gives, as UTF-8: split at backslashes (not LT, ST, UT,
    /// UR), trailing spaces and NULs dropped, leading spaces too for AE, DS, IS.
    static func forEachValue(_ bytes: UnsafeBufferPointer<UInt8>, vr: VR, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        let split = !vr.isSingleValuedText, trimLeading = vr == .AE || vr == .DS || vr == .IS
        var start = 0
        func emit(_ end: Int) {
            var s = start, e = end
            while e > s, bytes[e - 1] == 0x20 || bytes[e - 1] == 0 { e -= 1 }
            if trimLeading { while s < e, bytes[s] == 0x20 { s += 1 } }
            body(UnsafeBufferPointer(rebasing: bytes[s..<e]))
        }
        if split {
            for i in 0..<bytes.count where bytes[i] == UInt8(ascii: "\\") {
                emit(i)
                start = i + 1
            }
        }
        emit(bytes.count)
    }

    private func appendName(_ name: UnsafeBufferPointer<UInt8>, level: Int, to out: inout [UInt8]) {
        if name.isEmpty {
            out.append(contentsOf: "null".utf8)
            return
        }
        out.append(UInt8(ascii: "{"))
        // Alphabetic always; empty Ideographic and Phonetic groups are left out.
        var group = 0, start = 0
        func emit(_ end: Int) {
            defer { group += 1 }
            guard group == 0 || end > start else { return }
            switch group {
            case 0: key("Alphabetic", level + 1, &out)
            case 1:
                out.append(UInt8(ascii: ","))
                key("Ideographic", level + 1, &out)
            default:
                out.append(UInt8(ascii: ","))
                key("Phonetic", level + 1, &out)
            }
            Self.appendQuoted(UnsafeBufferPointer(rebasing: name[start..<end]), to: &out)
        }
        for i in 0..<name.count where name[i] == UInt8(ascii: "=") && group < 2 {
            emit(i)
            start = i + 1
        }
        if group < 3 {
            // The last group runs to the next '=' (a fourth group is dropped) or the end.
            let end = name[start...].firstIndex(of: UInt8(ascii: "=")) ?? name.count
            emit(end)
        }
        newline(level, &out)
        out.append(UInt8(ascii: "}"))
    }

    /// As JSONWriter.numberText: an IS that is an integer as such; other number text through
    /// DicomJSONEncoder's own rules (rare here: the index keeps IS as integers).
    private func appendNumber(_ text: String, integer: Bool, to out: inout [UInt8]) {
        if integer, let n = Int(text) {
            out.append(contentsOf: String(n).utf8)
            return
        }
        var writer = JSONWriter()
        writer.numberText(text, integer: integer)
        out.append(contentsOf: writer.bytes)
    }

    /// RFC 8259 string, escaped as JSONWriter does.
    static func appendQuoted(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var start = 0
        for i in 0..<bytes.count {
            let byte = bytes[i]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 10: out.append(contentsOf: [92, UInt8(ascii: "n")])
            case 13: out.append(contentsOf: [92, UInt8(ascii: "r")])
            case 9: out.append(contentsOf: [92, UInt8(ascii: "t")])
            default:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            }
            start = i + 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        out.append(UInt8(ascii: "\""))
    }
}
