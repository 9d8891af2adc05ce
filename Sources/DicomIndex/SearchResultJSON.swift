import DicomCore

/// Writes search results as DICOM JSON (PS3.18 F.2), byte for byte what DicomJSONEncoder writes
/// for `SearchResult.dataSet` (compact, or pretty at a given depth), but with each column's key
/// and VR text made once per search instead of once per row, and without building data sets:
/// a million rows stream in seconds. SearchTests compares the two on every kind of value the
/// index returns. (One deliberate difference: non-ASCII text in a VR outside the Specific
/// Character Set, such as CS or UR, is written as the index holds it, where the data set route
/// would read its UTF-8 as the default repertoire.)
public struct SearchResultJSON: Sendable {
    fileprivate struct Column: Sendable {
        /// `"ggggeeee":{"vr":"XX","Value":[` with the layout's spacing: the start of a column
        /// with a value.
        let open: [UInt8]
        /// `"ggggeeee":{"vr":"XX"}`: a column without one.
        let empty: [UInt8]
        let vr: VR
    }

    /// The bytes that do not depend on the values: made once per plan template (a shape of
    /// search) and layout, since with a few rows (a narrow query) making them was a tenth of
    /// the query's instructions.
    final class Layout: Sendable {
        fileprivate let columns: [Column]
        let pretty: Bool
        /// Nesting of the result object: 0 alone, 1 as a member of an array.
        let depth: Int
        /// The break before each item of a value, the end of a value and its column (`]}`), the
        /// end of the object, so that a row is a few appends per column.
        let itemBreak: [UInt8], close: [UInt8], objectClose: [UInt8]

        /// What a layout is made from besides the columns.
        struct Key: Hashable {
            let pretty: Bool
            let depth: Int
        }

        init(columns: [SearchColumn], pretty: Bool, depth: Int) {
            self.pretty = pretty
            self.depth = depth
            // Built as bytes by appending into buffers of the final size.
            func newline(_ level: Int, _ out: inout [UInt8]) {
                guard pretty else { return }
                out.append(10)
                out.append(contentsOf: repeatElement(32, count: 2 * level))
            }
            func key(_ text: StaticString, _ level: Int, _ out: inout [UInt8]) {
                newline(level, &out)
                out.append(34)
                text.withUTF8Buffer { out.append(contentsOf: $0) }
                out.append(34)
                out.append(58)
                if pretty { out.append(32) }
            }
            let hex: StaticString = "0123456789ABCDEF"
            let spacing = pretty ? 2 * depth + 8 : 0
            self.columns = columns.map { column in
                var head: [UInt8] = []
                head.reserveCapacity(32 + 2 * spacing)
                newline(depth + 1, &head)
                head.append(34)
                hex.withUTF8Buffer { digits in
                    for shift in stride(from: 28, through: 0, by: -4) { head.append(digits[Int(column.tag.rawValue >> UInt32(shift) & 0xF)]) }
                }
                head.append(34)
                head.append(58)
                if pretty { head.append(32) }
                head.append(123)
                key("vr", depth + 2, &head)
                head.append(34)
                head.append(contentsOf: column.vr.rawValue.utf8)
                head.append(34)
                var open = head, empty = head
                open.reserveCapacity(head.count + 16 + spacing)
                open.append(44)
                key("Value", depth + 2, &open)
                open.append(91)
                newline(depth + 1, &empty)
                empty.append(125)
                return Column(open: open, empty: empty, vr: column.vr)
            }
            var itemBreak: [UInt8] = []
            newline(depth + 3, &itemBreak)
            self.itemBreak = itemBreak
            var close: [UInt8] = []
            newline(depth + 2, &close)
            close.append(93)
            newline(depth + 1, &close)
            close.append(125)
            self.close = close
            var objectClose: [UInt8] = []
            if !columns.isEmpty { newline(depth, &objectClose) }
            objectClose.append(125)
            self.objectClose = objectClose
        }
    }

    private let layout: Layout
    private var columns: [Column] { layout.columns }
    private var pretty: Bool { layout.pretty }
    private var depth: Int { layout.depth }
    private var itemBreak: [UInt8] { layout.itemBreak }
    private var close: [UInt8] { layout.close }
    private var objectClose: [UInt8] { layout.objectClose }

    public init(columns: [SearchColumn], pretty: Bool, depth: Int = 0) {
        layout = Layout(columns: columns, pretty: pretty, depth: depth)
    }

    /// The same for the results of `plan`, the layout made once for all plans of its shape.
    public init(plan: SearchPlan, pretty: Bool, depth: Int = 0) {
        layout = plan.template.jsonLayout(pretty: pretty, depth: depth)
    }

    /// Appends one result's object (no separator, no newline).
    public func append(_ result: SearchResult, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (i, column) in columns.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendValue(result.values[i], column, to: &out)
        }
        out.append(contentsOf: objectClose)
    }

    /// The same for a row as SQLite holds it: text is written from SQLite's bytes.
    public func append(_ row: SearchRow, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (i, column) in columns.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            switch row.readers[i] {
            case .text(let index):
                row.statement.withText(index) { appendText($0, column, to: &out) }
            case .integer(let index):
                if row.statement.isNull(index) {
                    out.append(contentsOf: column.empty)
                } else {
                    appendInteger(row.statement.int(index), column, to: &out)
                }
            case .constant, .retrieveURL:
                appendValue(row.value(i), column, to: &out)
            }
        }
        out.append(contentsOf: objectClose)
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

    /// One column: `"ggggeeee":{"vr":"XX","Value":[…]}` as DicomJSONEncoder.writeValues does for
    /// the VRs the index returns, or without "Value" when there is none.
    private func appendValue(_ value: SearchValue?, _ column: Column, to out: inout [UInt8]) {
        switch value {
        case nil:
            out.append(contentsOf: column.empty)
        case .integer(let n)?:
            appendInteger(n, column, to: &out)
        case .text(let text)?:
            var text = text
            text.withUTF8 { appendText($0, column, to: &out) }
        }
    }

    private func appendInteger(_ n: Int64, _ column: Column, to out: inout [UInt8]) {
        out.append(contentsOf: column.open)
        out.append(contentsOf: itemBreak)
        Self.appendDecimal(n, to: &out)
        out.append(contentsOf: close)
    }

    /// The digits of `n`, without a String.
    static func appendDecimal(_ n: Int64, to out: inout [UInt8]) {
        if n < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = n.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var i = buffer.count
            repeat {
                i -= 1
                buffer[i] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[i...]))
        }
    }

    private func appendText(_ bytes: UnsafeBufferPointer<UInt8>?, _ column: Column, to out: inout [UInt8]) {
        // Nothing but padding is no value.
        guard let bytes, bytes.contains(where: { $0 != 0x20 && $0 != 0 }) else {
            out.append(contentsOf: column.empty)
            return
        }
        let vr = column.vr, itemLevel = depth + 3
        out.append(contentsOf: column.open)
        var first = true
        Self.forEachValue(bytes, vr: vr) { single in
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(contentsOf: itemBreak)
            if vr == .PN {
                appendName(single, level: itemLevel, to: &out)
            } else if vr == .IS || vr == .DS {
                appendNumber(String(decoding: single, as: UTF8.self), integer: vr == .IS, to: &out)
            } else {
                Self.appendQuoted(single, to: &out)
            }
        }
        out.append(contentsOf: close)
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
            Self.appendDecimal(Int64(n), to: &out)
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
