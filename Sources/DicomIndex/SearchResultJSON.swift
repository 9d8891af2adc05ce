import DicomCore

/// Writes search results as DICOM JSON (PS3.18 F.2), byte for byte what DicomJSONEncoder writes
/// for `SearchResult.dataSet` (compact, or pretty at a given depth), but with each column's key
/// and VR text made once (per search, or per shape of search with `init(plan:)`) instead of once
/// per row, and without building data sets:
/// a million rows stream in seconds. SearchTests compares the two on every kind of value the
/// index returns. (One deliberate difference: non-ASCII text in a VR outside the Specific
/// Character Set, such as CS or UR, is written as the index holds it, where the data set route
/// would read its UTF-8 as the default repertoire.)
public struct SearchResultJSON: Sendable {
    fileprivate struct Column: Sendable {
        /// `"ggggeeee":{"vr":"XX","Value":[` with the layout's spacing and the break before the
        /// first item: the start of a column with a value (a range of `Layout.bytes`). After the
        /// first column, both begin with the comma that separates them from the one before.
        let open: Range<Int>
        /// `"ggggeeee":{"vr":"XX"}`: a column without one.
        let empty: Range<Int>
        let vr: VR
        /// Split at backslashes (not LT, ST, UT, UR); leading spaces dropped too (AE, DS, IS).
        let split: Bool, trimLeading: Bool
    }

    /// The bytes that do not depend on the values, in one buffer (a row is then a few copies out
    /// of it per column, without reference counting): made once per plan template (a shape of
    /// search) and layout, since with a few rows (a narrow query) making them was a tenth of
    /// the query's instructions.
    final class Layout: Sendable {
        /// Every piece below, one after the other.
        let bytes: [UInt8]
        fileprivate let columns: [Column]
        let pretty: Bool
        /// Nesting of the result object: 0 alone, 1 as a member of an array.
        let depth: Int
        /// The comma and break before each item of a value after the first, the end of a value
        /// and its column (`]}`), the end of the object.
        let nextItem: Range<Int>, close: Range<Int>, objectClose: Range<Int>
        /// Inside a person name object: `"Alphabetic":`, `,"Ideographic":`, `,"Phonetic":` with
        /// their line breaks, and the end of the object.
        let nameKeys: (Range<Int>, Range<Int>, Range<Int>), nameClose: Range<Int>

        init(columns: [SearchColumn], pretty: Bool, depth: Int) {
            self.pretty = pretty
            self.depth = depth
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
            // Appended into one buffer of about the final size, each column's head made once.
            var bytes: [UInt8] = []
            bytes.reserveCapacity(columns.count * (pretty ? 100 + 8 * depth : 60) + 128)
            var head: [UInt8] = []
            head.reserveCapacity(64 + 4 * depth)
            let hex: StaticString = "0123456789ABCDEF"
            var layoutColumns: [Column] = []
            layoutColumns.reserveCapacity(columns.count)
            for (i, column) in columns.enumerated() {
                head.removeAll(keepingCapacity: true)
                if i > 0 { head.append(44) }
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

                let openStart = bytes.count
                bytes.append(contentsOf: head)
                bytes.append(44)
                key("Value", depth + 2, &bytes)
                bytes.append(91)
                newline(depth + 3, &bytes)
                let emptyStart = bytes.count
                bytes.append(contentsOf: head)
                newline(depth + 1, &bytes)
                bytes.append(125)
                let vr = column.vr
                layoutColumns.append(Column(open: openStart..<emptyStart, empty: emptyStart..<bytes.count, vr: vr,
                                            split: !vr.isSingleValuedText, trimLeading: vr == .AE || vr == .DS || vr == .IS))
            }
            self.columns = layoutColumns

            var start = bytes.count
            func piece() -> Range<Int> {
                defer { start = bytes.count }
                return start..<bytes.count
            }
            bytes.append(44)
            newline(depth + 3, &bytes)
            nextItem = piece()
            newline(depth + 2, &bytes)
            bytes.append(93)
            newline(depth + 1, &bytes)
            bytes.append(125)
            close = piece()
            if !columns.isEmpty { newline(depth, &bytes) }
            bytes.append(125)
            objectClose = piece()
            // A name is an item of a value: its keys one level deeper.
            let nameLevel = depth + 4
            key("Alphabetic", nameLevel, &bytes)
            let alphabetic = piece()
            bytes.append(44)
            key("Ideographic", nameLevel, &bytes)
            let ideographic = piece()
            bytes.append(44)
            key("Phonetic", nameLevel, &bytes)
            nameKeys = (alphabetic, ideographic, piece())
            newline(nameLevel - 1, &bytes)
            bytes.append(125)
            nameClose = piece()
            self.bytes = bytes
        }
    }

    private let layout: Layout

    public init(columns: [SearchColumn], pretty: Bool, depth: Int = 0) {
        layout = Layout(columns: columns, pretty: pretty, depth: depth)
    }

    /// The same for the results of `plan`, the layout made once for all plans of its shape.
    public init(plan: SearchPlan, pretty: Bool, depth: Int = 0) {
        layout = plan.template.jsonLayout(pretty: pretty, depth: depth)
    }

    /// Appends one result's object (no separator, no newline).
    public func append(_ result: SearchResult, to out: inout [UInt8]) {
        let layout = self.layout
        layout.bytes.withUnsafeBufferPointer { bytes in
            let writer = Writer(layout: layout, bytes: bytes)
            out.append(UInt8(ascii: "{"))
            for (i, column) in layout.columns.enumerated() {
                writer.value(result.values[i], column, to: &out)
            }
            writer.put(layout.objectClose, to: &out)
        }
    }

    /// The same for a row as SQLite holds it: text is written from SQLite's bytes.
    public func append(_ row: SearchRow, to out: inout [UInt8]) {
        let layout = self.layout, statement = row.statement
        layout.bytes.withUnsafeBufferPointer { bytes in
            let writer = Writer(layout: layout, bytes: bytes)
            out.append(UInt8(ascii: "{"))
            layout.columns.withUnsafeBufferPointer { columns in
                for i in columns.indices {
                    let column = columns[i]
                    switch row.readers[i] {
                    case .text(let index):
                        statement.withText(index) { writer.text($0, column, to: &out) }
                    case .integer(let index):
                        if statement.isNull(index) {
                            writer.put(column.empty, to: &out)
                        } else {
                            writer.integer(statement.int(index), column, to: &out)
                        }
                    case .constant, .retrieveURL:
                        writer.value(row.value(i), column, to: &out)
                    }
                }
            }
            writer.put(layout.objectClose, to: &out)
        }
    }

    /// Writes values with the layout's bytes at hand.
    private struct Writer {
        let layout: Layout
        let bytes: UnsafeBufferPointer<UInt8>

        @inline(__always)
        func put(_ piece: Range<Int>, to out: inout [UInt8]) {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[piece]))
        }

        /// One column: `"ggggeeee":{"vr":"XX","Value":[…]}` as DicomJSONEncoder.writeValues does
        /// for the VRs the index returns, or without "Value" when there is none.
        func value(_ value: SearchValue?, _ column: Column, to out: inout [UInt8]) {
            switch value {
            case nil:
                put(column.empty, to: &out)
            case .integer(let n)?:
                integer(n, column, to: &out)
            case .text(let text)?:
                var text = text
                text.withUTF8 { self.text($0, column, to: &out) }
            }
        }

        func integer(_ n: Int64, _ column: Column, to out: inout [UInt8]) {
            put(column.open, to: &out)
            SearchResultJSON.appendDecimal(n, to: &out)
            put(layout.close, to: &out)
        }

        func text(_ text: UnsafeBufferPointer<UInt8>?, _ column: Column, to out: inout [UInt8]) {
            // Nothing but padding is no value.
            guard let text, text.contains(where: { $0 != 0x20 && $0 != 0 }) else {
                put(column.empty, to: &out)
                return
            }
            let vr = column.vr
            put(column.open, to: &out)
            var first = true
            SearchResultJSON.forEachValue(text, split: column.split, trimLeading: column.trimLeading) { single in
                if !first { put(layout.nextItem, to: &out) }
                first = false
                if vr == .PN {
                    name(single, to: &out)
                } else if vr == .IS || vr == .DS {
                    SearchResultJSON.appendNumber(String(decoding: single, as: UTF8.self), integer: vr == .IS, to: &out)
                } else {
                    SearchResultJSON.appendQuoted(single, to: &out)
                }
            }
            put(layout.close, to: &out)
        }

        func name(_ name: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
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
                case 0: put(layout.nameKeys.0, to: &out)
                case 1: put(layout.nameKeys.1, to: &out)
                default: put(layout.nameKeys.2, to: &out)
                }
                SearchResultJSON.appendQuoted(UnsafeBufferPointer(rebasing: name[start..<end]), to: &out)
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
            put(layout.nameClose, to: &out)
        }
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

    /// The values DataElement.strings gives, as UTF-8: split at backslashes (`split`: not LT,
    /// ST, UT, UR), trailing spaces and NULs dropped, leading spaces too (`trimLeading`: AE, DS, IS).
    static func forEachValue(_ bytes: UnsafeBufferPointer<UInt8>, split: Bool, trimLeading: Bool,
                             _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var start = 0
        func emit(_ end: Int) {
            var s = start, e = end
            while e > s, bytes[e - 1] == 0x20 || bytes[e - 1] == 0 { e -= 1 }
            if trimLeading { while s < e, bytes[s] == 0x20 { s += 1 } }
            body(UnsafeBufferPointer(rebasing: bytes[s..<e]))
        }
        if split {
            var i = firstByte(in: bytes, from: 0, escaped: false)
            while i < bytes.count {
                emit(i)
                start = i + 1
                i = firstByte(in: bytes, from: start, escaped: false)
            }
        }
        emit(bytes.count)
    }

    /// As JSONWriter.numberText: an IS that is an integer as such; other number text through
    /// DicomJSONEncoder's own rules (rare here: the index keeps IS as integers).
    static func appendNumber(_ text: String, integer: Bool, to out: inout [UInt8]) {
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
        while true {
            let i = firstByte(in: bytes, from: start, escaped: true)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
            guard i < bytes.count else { break }
            let byte = bytes[i]
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
        out.append(UInt8(ascii: "\""))
    }

    /// The index of the first byte from `start` on that JSON escapes (`escaped`: a control
    /// character, `"` or `\`) or that separates values (a backslash), or `bytes.count`. Eight
    /// bytes at a time while none of them can be one: every value of every row passes here twice.
    static func firstByte(in bytes: UnsafeBufferPointer<UInt8>, from start: Int, escaped: Bool) -> Int {
        var i = start
        if let base = bytes.baseAddress {
            let raw = UnsafeRawPointer(base)
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            // The high bit of each byte of `v` that is zero (exact as to whether there is one).
            func zeros(_ v: UInt64) -> UInt64 { (v &- ones) & ~v & highs }
            while i + 8 <= bytes.count {
                let word = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                var found = zeros(word ^ (ones &* 0x5C))
                if escaped { found |= zeros(word ^ (ones &* 0x22)) | ((word &- ones &* 0x20) & ~word & highs) }
                if found != 0 { break }
                i += 8
            }
        }
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "\\") || (escaped && (byte < 0x20 || byte == UInt8(ascii: "\""))) { return i }
            i += 1
        }
        return bytes.count
    }
}
