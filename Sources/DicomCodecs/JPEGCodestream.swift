/// JPEG (ITU-T T.81) codestream parsing shared by the Swift decoders (lossless Process 14 and
/// sequential DCT for 12-bit) and by the libjpeg-turbo decoder's colour decisions: markers,
/// frame and scan headers, Huffman and quantisation tables, and an entropy-coded bit reader.

/// One component of a frame header (SOFn).
struct JPEGComponent: Sendable {
    var id: UInt8
    var h: Int
    var v: Int
    var quantTable: Int
}

/// A frame header (SOFn).
struct JPEGFrameHeader: Sendable {
    /// The marker's low byte: 0xC0 baseline, 0xC1 extended, 0xC2 progressive, 0xC3 lossless, ...
    var process: UInt8
    var precision: Int
    var lines: Int
    var samplesPerLine: Int
    var components: [JPEGComponent]

    var maxH: Int { components.map(\.h).max() ?? 1 }
    var maxV: Int { components.map(\.v).max() ?? 1 }
    var isLossless: Bool { process == 0xC3 || process == 0xC7 || process == 0xCB || process == 0xCF }
    var isArithmetic: Bool { process >= 0xC9 }
}

/// One component of a scan header (SOS).
struct JPEGScanComponent: Sendable {
    var componentIndex: Int
    var dcTable: Int
    var acTable: Int
}

/// A scan header (SOS).
struct JPEGScanHeader: Sendable {
    var components: [JPEGScanComponent]
    /// Ss: spectral selection start (DCT) or predictor selection value (lossless).
    var ss: Int
    var se: Int
    var ah: Int
    /// Al: successive approximation (DCT) or point transform (lossless).
    var al: Int
}

/// A Huffman table (DHT) ready for decoding: a 9-bit look-up for short codes and the canonical
/// limits for longer ones.
struct HuffmanTable: Sendable {
    static let lookupBits = 9
    /// (length << 8 | symbol) for codes of at most `lookupBits` bits, 0 otherwise.
    var lookup: [UInt16]
    /// Largest code of each length (-1 when none), index 1...16; index 17 is a sentinel.
    var maxCode: [Int32]
    /// values index of the first code of each length minus that code.
    var valueOffset: [Int32]
    var values: [UInt8]

    init(counts: [Int], values: [UInt8]) throws {
        self.values = values
        maxCode = [Int32](repeating: -1, count: 18)
        valueOffset = [Int32](repeating: 0, count: 18)
        lookup = [UInt16](repeating: 0, count: 1 << Self.lookupBits)
        var code: Int32 = 0, k = 0
        for length in 1...16 {
            let n = counts[length - 1]
            if n > 0 {
                valueOffset[length] = Int32(k) - code
                for _ in 0..<n {
                    if length <= Self.lookupBits {
                        let shift = Self.lookupBits - length
                        let first = Int(code) << shift
                        for fill in 0..<(1 << shift) {
                            lookup[first + fill] = UInt16(length << 8) | UInt16(values[k])
                        }
                    }
                    code += 1
                    k += 1
                }
                maxCode[length] = code - 1
            }
            // Codes of a length must fit in it (the all-ones code excluded by T.81 C.2, tolerated).
            guard code <= (1 << length) else { throw CodecError.corrupt("JPEG Huffman table has too many codes of length \(length)") }
            code <<= 1
        }
        maxCode[17] = Int32.max
    }
}

/// Huffman tables flattened into four arrays, lent to a scan's decoding loop as `HuffmanView`s
/// (plain pointers: no reference counting per decoded symbol).
struct HuffmanSet {
    private var lookup: [UInt16] = []
    private var maxCode: [Int32] = []
    private var valueOffset: [Int32] = []
    private var values: [UInt8] = []
    private var valueCounts: [Int] = []

    init(_ tables: [HuffmanTable]) {
        for table in tables {
            lookup += table.lookup
            maxCode += table.maxCode
            valueOffset += table.valueOffset
            values += table.values + [UInt8](repeating: 0, count: 256 - table.values.count)
            valueCounts.append(table.values.count)
        }
    }

    func withViews<R>(_ body: ([HuffmanView]) throws -> R) rethrows -> R {
        try lookup.withUnsafeBufferPointer { lookup in
            try maxCode.withUnsafeBufferPointer { maxCode in
                try valueOffset.withUnsafeBufferPointer { valueOffset in
                    try values.withUnsafeBufferPointer { values in
                        let views = valueCounts.indices.map { k in
                            HuffmanView(lookup: lookup.baseAddress! + k * (1 << HuffmanTable.lookupBits),
                                        maxCode: maxCode.baseAddress! + k * 18, valueOffset: valueOffset.baseAddress! + k * 18,
                                        values: values.baseAddress! + k * 256, valueCount: valueCounts[k])
                        }
                        return try body(views)
                    }
                }
            }
        }
    }
}

/// One table of a `HuffmanSet`, valid inside `withViews`.
struct HuffmanView {
    let lookup: UnsafePointer<UInt16>
    let maxCode: UnsafePointer<Int32>
    let valueOffset: UnsafePointer<Int32>
    let values: UnsafePointer<UInt8>
    let valueCount: Int
}

/// APPn markers that decide the colour space of a 3-component JPEG.
struct JPEGColorMarkers: Sendable {
    var hasJFIF = false
    /// The Adobe APP14 marker's transform flag (0 none/RGB, 1 YCbCr, 2 YCCK), nil without one.
    var adobeTransform: Int?
}

/// Walks the markers of a JPEG codestream.
struct JPEGParser {
    let data: [UInt8]
    var position = 0
    var frame: JPEGFrameHeader?
    var dcTables = [HuffmanTable?](repeating: nil, count: 4)
    var acTables = [HuffmanTable?](repeating: nil, count: 4)
    /// Quantisation tables in zig-zag order.
    var quantTables = [[Int32]?](repeating: nil, count: 4)
    var restartInterval = 0
    var colorMarkers = JPEGColorMarkers()
    var sawEOI = false
    /// The transfer syntax, for error messages.
    let transferSyntax: String

    init(_ data: [UInt8], transferSyntax: String) {
        self.data = data
        self.transferSyntax = transferSyntax
    }

    private func u16(_ i: Int) -> Int { Int(data[i]) << 8 | Int(data[i + 1]) }

    /// Reads markers up to and including the next SOS; returns its header, or nil at EOI (or the
    /// end of the data after at least one scan).
    mutating func nextScan() throws -> JPEGScanHeader? {
        if position == 0 {
            guard data.count >= 4, data[0] == 0xFF, data[1] == 0xD8 else {
                throw CodecError.corrupt("not a JPEG codestream (no SOI marker at the start)")
            }
            position = 2
        }
        while true {
            // Find the next marker: 0xFF followed by a byte other than 0x00 and 0xFF.
            while position < data.count && data[position] != 0xFF { position += 1 }
            while position < data.count && data[position] == 0xFF { position += 1 }
            guard position < data.count else {
                if frame != nil { return nil }
                throw CodecError.corrupt("JPEG codestream ends before a frame header")
            }
            let marker = data[position]
            position += 1
            switch marker {
            case 0x00, 0x01, 0xD0...0xD7:
                continue  // stuffed byte, TEM, stray RST: no segment
            case 0xD8:
                throw CodecError.corrupt("JPEG codestream has a second SOI marker")
            case 0xD9:
                sawEOI = true
                return nil
            default:
                break
            }
            guard position + 2 <= data.count else { throw CodecError.corrupt("JPEG marker segment 0xFF\(hex(marker)) is truncated") }
            let length = u16(position)
            guard length >= 2, position + length <= data.count else {
                throw CodecError.corrupt("JPEG marker segment 0xFF\(hex(marker)) of length \(length) runs past the end")
            }
            let start = position + 2, end = position + length
            position = end
            switch marker {
            case 0xC0...0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF:
                guard frame == nil else { throw CodecError.corrupt("JPEG codestream has more than one frame header") }
                frame = try parseFrame(marker: marker, start: start, end: end)
            case 0xC4:
                try parseHuffman(start: start, end: end)
            case 0xDB:
                try parseQuantization(start: start, end: end)
            case 0xDD:
                guard end - start >= 2 else { throw CodecError.corrupt("JPEG DRI segment is too short") }
                restartInterval = u16(start)
            case 0xDA:
                return try parseScan(start: start, end: end)
            case 0xE0:
                if end - start >= 5, Array(data[start..<start + 5]) == [0x4A, 0x46, 0x49, 0x46, 0x00] { colorMarkers.hasJFIF = true }
            case 0xEE:
                if end - start >= 12, Array(data[start..<start + 5]) == [0x41, 0x64, 0x6F, 0x62, 0x65] {
                    colorMarkers.adobeTransform = Int(data[start + 11])
                }
            case 0xDC:
                throw CodecError.unsupported(transferSyntax: transferSyntax, reason: "JPEG DNL marker (number of lines after the first scan)")
            default:
                continue  // APPn, COM, DHP, EXP...: skipped
            }
        }
    }

    /// Reads the headers up to the first scan (or EOI) without decoding anything.
    static func headers(of data: [UInt8], transferSyntax: String) throws -> (frame: JPEGFrameHeader, markers: JPEGColorMarkers, firstScan: JPEGScanHeader?) {
        var parser = JPEGParser(data, transferSyntax: transferSyntax)
        let scan = try parser.nextScan()
        guard let frame = parser.frame else { throw CodecError.corrupt("JPEG codestream has no frame header before its first scan") }
        return (frame, parser.colorMarkers, scan)
    }

    private func parseFrame(marker: UInt8, start: Int, end: Int) throws -> JPEGFrameHeader {
        guard end - start >= 6 else { throw CodecError.corrupt("JPEG frame header is too short") }
        let count = Int(data[start + 5])
        guard count >= 1, count <= 4, end - start >= 6 + 3 * count else {
            throw CodecError.corrupt("JPEG frame header with \(count) components is malformed")
        }
        var components: [JPEGComponent] = []
        for i in 0..<count {
            let p = start + 6 + 3 * i
            let h = Int(data[p + 1] >> 4), v = Int(data[p + 1] & 15), q = Int(data[p + 2])
            guard (1...4).contains(h), (1...4).contains(v), q < 4 else {
                throw CodecError.corrupt("JPEG component \(i) has sampling \(h)×\(v) or table \(q) out of range")
            }
            components.append(JPEGComponent(id: data[p], h: h, v: v, quantTable: q))
        }
        let precision = Int(data[start])
        guard (2...16).contains(precision) else { throw CodecError.corrupt("JPEG sample precision \(precision)") }
        return JPEGFrameHeader(process: marker, precision: precision, lines: u16(start + 1),
                               samplesPerLine: u16(start + 3), components: components)
    }

    private mutating func parseHuffman(start: Int, end: Int) throws {
        var p = start
        while p < end {
            guard p + 17 <= end else { throw CodecError.corrupt("JPEG DHT segment is truncated") }
            let tableClass = Int(data[p] >> 4), id = Int(data[p] & 15)
            guard tableClass <= 1, id < 4 else { throw CodecError.corrupt("JPEG DHT table class \(tableClass) id \(id)") }
            let counts = (0..<16).map { Int(data[p + 1 + $0]) }
            let total = counts.reduce(0, +)
            guard total <= 256, p + 17 + total <= end else { throw CodecError.corrupt("JPEG DHT segment is truncated") }
            let table = try HuffmanTable(counts: counts, values: Array(data[(p + 17)..<(p + 17 + total)]))
            if tableClass == 0 { dcTables[id] = table } else { acTables[id] = table }
            p += 17 + total
        }
    }

    private mutating func parseQuantization(start: Int, end: Int) throws {
        var p = start
        while p < end {
            let wide = data[p] >> 4 == 1, id = Int(data[p] & 15)
            guard id < 4, data[p] >> 4 <= 1 else { throw CodecError.corrupt("JPEG DQT table \(data[p])") }
            let size = wide ? 128 : 64
            guard p + 1 + size <= end else { throw CodecError.corrupt("JPEG DQT segment is truncated") }
            quantTables[id] = (0..<64).map { k in
                wide ? Int32(u16(p + 1 + 2 * k)) : Int32(data[p + 1 + k])
            }
            p += 1 + size
        }
    }

    private func parseScan(start: Int, end: Int) throws -> JPEGScanHeader {
        guard let frame else { throw CodecError.corrupt("JPEG scan before the frame header") }
        guard end - start >= 1 else { throw CodecError.corrupt("JPEG scan header is too short") }
        let count = Int(data[start])
        guard count >= 1, count <= 4, end - start >= 4 + 2 * count else { throw CodecError.corrupt("JPEG scan header is malformed") }
        var components: [JPEGScanComponent] = []
        for i in 0..<count {
            let id = data[start + 1 + 2 * i]
            guard let index = frame.components.firstIndex(where: { $0.id == id }) else {
                throw CodecError.corrupt("JPEG scan names component \(id), which the frame does not have")
            }
            let tables = data[start + 2 + 2 * i]
            guard tables >> 4 < 4, tables & 15 < 4 else { throw CodecError.corrupt("JPEG scan table selector \(tables)") }
            components.append(JPEGScanComponent(componentIndex: index, dcTable: Int(tables >> 4), acTable: Int(tables & 15)))
        }
        let p = start + 1 + 2 * count
        return JPEGScanHeader(components: components, ss: Int(data[p]), se: Int(data[p + 1]),
                              ah: Int(data[p + 2] >> 4), al: Int(data[p + 2] & 15))
    }
}

/// Reads the entropy-coded segment that follows a scan header: removes stuffed zero bytes,
/// stops at markers (feeding zero bits past them and noting the overrun), handles restarts.
struct JPEGBitReader {
    let data: UnsafeBufferPointer<UInt8>
    /// Next byte to load.
    var position: Int
    /// Left-aligned bit buffer.
    var buffer: UInt64 = 0
    var count = 0
    /// Zero bits appended past a marker or the end of the data.
    var padding = 0
    /// A marker (or the end) was reached; `position` is at its 0xFF.
    var atMarker = false
    /// Bits past the end of the entropy-coded data were consumed: the data is truncated or corrupt.
    var overrun = false

    init(data: UnsafeBufferPointer<UInt8>, position: Int) {
        self.data = data
        self.position = position
    }

    @inline(__always)
    mutating func fill() {
        while count <= 56 {
            var byte: UInt8 = 0
            if !atMarker {
                if position < data.count {
                    byte = data[position]
                    if byte == 0xFF {
                        let next: UInt8 = position + 1 < data.count ? data[position + 1] : 0xD9
                        if next == 0x00 {
                            position += 2
                        } else if next == 0xFF {
                            position += 1  // fill byte before a marker
                            continue
                        } else {
                            atMarker = true
                            byte = 0
                        }
                    } else {
                        position += 1
                    }
                } else {
                    atMarker = true
                }
            }
            if atMarker { padding += 8 }
            buffer |= UInt64(byte) << UInt64(56 - count)
            count += 8
        }
    }

    @inline(__always)
    mutating func consume(_ n: Int) {
        buffer <<= UInt64(n)
        count -= n
        if count < padding {
            overrun = true
            padding = count
        }
    }

    /// The next `n` (0...16) bits as an unsigned number.
    @inline(__always)
    mutating func receive(_ n: Int) -> Int {
        if n == 0 { return 0 }
        if count < n { fill() }
        let value = Int(buffer >> UInt64(64 - n))
        consume(n)
        return value
    }

    /// T.81 F.2.2.1 EXTEND: the `n`-bit magnitude category value as a signed difference.
    @inline(__always)
    static func extend(_ value: Int, _ n: Int) -> Int {
        n == 0 ? 0 : (value < 1 << (n - 1) ? value - (1 << n) + 1 : value)
    }

    /// The next Huffman-coded symbol, nil for a code not in the table.
    @inline(__always)
    mutating func decode(_ table: HuffmanView) -> Int? {
        if count < 16 { fill() }
        let entry = table.lookup[Int(buffer >> UInt64(64 - HuffmanTable.lookupBits))]
        if entry != 0 {
            consume(Int(entry >> 8))
            return Int(entry & 0xFF)
        }
        var length = HuffmanTable.lookupBits + 1
        var code = Int32(truncatingIfNeeded: buffer >> UInt64(64 - length))
        while length <= 16 && code > table.maxCode[length] {
            length += 1
            code = Int32(truncatingIfNeeded: buffer >> UInt64(64 - length))
        }
        guard length <= 16 else { return nil }
        let index = Int(table.valueOffset[length] + code)
        guard index >= 0, index < table.valueCount else { return nil }
        consume(length)
        return Int(table.values[index])
    }

    /// At the end of a restart interval: drops the bits left in the buffer and skips the RSTn
    /// marker (searching forward past any extra data). Throws when another marker or the end
    /// comes first.
    mutating func restart(expected: Int) throws {
        buffer = 0
        count = 0
        padding = 0
        while true {
            if !atMarker {
                // Extra data before the marker: skip to it.
                while position < data.count {
                    if data[position] == 0xFF, position + 1 < data.count, data[position + 1] != 0x00, data[position + 1] != 0xFF { break }
                    position += 1
                }
            }
            guard position + 1 < data.count else { throw CodecError.corrupt("JPEG data ends where restart marker RST\(expected) should be") }
            let marker = data[position + 1]
            if marker >= 0xD0 && marker <= 0xD7 {
                position += 2
                atMarker = false
                return
            }
            if marker == 0xFF { position += 1; atMarker = false; continue }
            throw CodecError.corrupt("JPEG marker 0xFF\(hex(marker)) found where restart marker RST\(expected) should be")
        }
    }

    /// Where the parser continues after this scan: the next marker.
    mutating func positionAfterScan() -> Int {
        var p = position
        while p + 1 < data.count {
            if data[p] == 0xFF, data[p + 1] != 0x00, data[p + 1] != 0xFF, !(0xD0...0xD7).contains(data[p + 1]) { return p }
            p += 1
        }
        return data.count
    }
}

func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}
