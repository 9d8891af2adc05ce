import DicomCore

/// Where the pixel data of a file is, found without reading it: from the parsed element, or —
/// after a parse that stopped before it — from its header and the Basic Offset Table item.
public struct PixelDataLocation: Sendable, Equatable {
    /// Offset of the Pixel Data element's tag.
    public var elementOffset: UInt64
    /// Offset of the value (for encapsulated data: of the Basic Offset Table item's tag).
    public var valueOffset: UInt64
    /// Value length; nil for encapsulated (undefined length) pixel data.
    public var length: UInt64?
    /// Basic Offset Table entries (empty when the table is empty or the data native).
    public var basicOffsetTable: [UInt64]
    /// Offset of the first fragment's item tag: BOT and EOT offsets count from here.
    public var firstFragmentOffset: UInt64?
    /// The element's VR when the file says it (explicit VR): OW holds 16-bit words, which
    /// matters for 8-bit data in a big endian file.
    public var vr: VR?

    public var isEncapsulated: Bool { length == nil }

    public init(elementOffset: UInt64, valueOffset: UInt64, length: UInt64?, basicOffsetTable: [UInt64], firstFragmentOffset: UInt64?, vr: VR? = nil) {
        self.vr = vr
        self.elementOffset = elementOffset
        self.valueOffset = valueOffset
        self.length = length
        self.basicOffsetTable = basicOffsetTable
        self.firstFragmentOffset = firstFragmentOffset
    }
}

/// The byte span holding one frame. Native data: the frame's bytes. Encapsulated data: from
/// the frame's first item tag to the next frame's, so one read gets every fragment of it.
public struct FrameSpan: Sendable, Equatable {
    public var offset: UInt64
    public var length: UInt64
    public init(offset: UInt64, length: UInt64) { self.offset = offset; self.length = length }

    /// Packs spans as little-endian (offset, length) UInt64 pairs, the index's blob format.
    public static func pack(_ spans: [FrameSpan]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(spans.count * 16)
        for span in spans {
            for value in [span.offset, span.length] {
                for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
            }
        }
        return out
    }

    public static func unpack(_ bytes: [UInt8]) -> [FrameSpan] {
        // Loads, not a fold over bytes: a whole-slide image's table holds 10^5 spans.
        bytes.withUnsafeBytes { raw in
            (0..<(raw.count / 16)).map { i in
                FrameSpan(offset: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16 * i, as: UInt64.self)),
                          length: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16 * i + 8, as: UInt64.self)))
            }
        }
    }
}

extension DicomFile {
    /// Locates Pixel Data (7FE0,0010) at the top level; nil when there is none.
    public func pixelDataLocation() throws -> PixelDataLocation? {
        if let element = dataSet[.pixelData] {
            switch element.value {
            case .bulk(let ref):
                return PixelDataLocation(elementOffset: element.valueOffset - headerLength, valueOffset: ref.offset,
                                         length: ref.length, basicOffsetTable: [], firstFragmentOffset: nil, vr: element.vr)
            case .encapsulated:
                return try readEncapsulatedStart(elementOffset: element.valueOffset - 12, valueOffset: element.valueOffset)
            case .bytes(let b):
                return PixelDataLocation(elementOffset: element.valueOffset - headerLength, valueOffset: element.valueOffset,
                                         length: UInt64(b.count), basicOffsetTable: [], firstFragmentOffset: nil)
            case .sequence:
                return nil
            }
        }
        guard let stop = stopOffset else { return nil }
        let header = try source.read(offset: stop, length: 12)
        guard header.count >= 8 else { return nil }
        let big = transferSyntax.isBigEndian
        func u16(_ i: Int) -> UInt16 { big ? UInt16(header[i]) << 8 | UInt16(header[i + 1]) : UInt16(header[i + 1]) << 8 | UInt16(header[i]) }
        func u32(_ i: Int) -> UInt32 { big ? UInt32(u16(i)) << 16 | UInt32(u16(i + 2)) : UInt32(u16(i + 2)) << 16 | UInt32(u16(i)) }
        guard Tag(u16(0), u16(2)) == .pixelData else { return nil }
        let length: UInt32
        let valueOffset: UInt64
        let explicitVR = VR(byte0: header[4], byte1: header[5])
        if let vr = explicitVR {
            guard header.count >= 12 || !vr.hasLongLength else { return nil }
            length = vr.hasLongLength ? u32(8) : UInt32(u16(6))
            valueOffset = stop + (vr.hasLongLength ? 12 : 8)
        } else {
            length = u32(4)
            valueOffset = stop + 8
        }
        if length == 0xFFFF_FFFF {
            return try readEncapsulatedStart(elementOffset: stop, valueOffset: valueOffset)
        }
        let available = source.size - min(source.size, valueOffset)
        return PixelDataLocation(elementOffset: stop, valueOffset: valueOffset, length: min(UInt64(length), available),
                                 basicOffsetTable: [], firstFragmentOffset: nil, vr: explicitVR)
    }

    private var headerLength: UInt64 { transferSyntax.isExplicitVR ? 12 : 8 }

    /// Reads the Basic Offset Table item at the start of encapsulated pixel data.
    private func readEncapsulatedStart(elementOffset: UInt64, valueOffset: UInt64) throws -> PixelDataLocation {
        let itemHeader = try source.read(offset: valueOffset, length: 8)
        guard itemHeader.count == 8,
              Array(itemHeader[0..<4]) == [0xFE, 0xFF, 0x00, 0xE0] else {
            throw DicomParserError(.invalid, source: source.name, offset: valueOffset, tag: .pixelData,
                                   message: "encapsulated pixel data does not start with an item")
        }
        let length = UInt64(BinaryValues.integers(itemHeader[4..<8], vr: .UL, bigEndian: false)[0])
        let tableStart = valueOffset + 8
        guard length % 4 == 0, length <= source.size - min(source.size, tableStart) else {
            throw DicomParserError(.invalid, source: source.name, offset: valueOffset, tag: .pixelData,
                                   message: "Basic Offset Table length \(length) is not a multiple of 4 or reaches past the end")
        }
        var table: [UInt64] = []
        if length > 0 {
            let bytes = try source.read(offset: tableStart, length: Int(length))
            guard bytes.count == Int(length) else {
                throw DicomParserError(.invalid, source: source.name, offset: tableStart, tag: .pixelData, message: "truncated Basic Offset Table")
            }
            table = BinaryValues.integers(bytes[...], vr: .UL, bigEndian: false).map { UInt64($0) }
        }
        return PixelDataLocation(elementOffset: elementOffset, valueOffset: valueOffset, length: nil,
                                 basicOffsetTable: table, firstFragmentOffset: tableStart + length)
    }

    /// Frame spans from the Extended Offset Table (with its lengths) or a non-empty Basic Offset
    /// Table, checked against the file; nil when neither is usable (the frames issue scans then).
    public func frameSpansFromOffsetTables(location: PixelDataLocation, frameCount: Int) throws -> (spans: [FrameSpan], origin: String)? {
        guard let first = location.firstFragmentOffset, frameCount > 0 else { return nil }
        let size = source.size
        if let eotElement = dataSet[.extendedOffsetTable], let lengthElement = dataSet[.extendedOffsetTableLengths],
           let eotBytes = try valueBytes(eotElement), let lengthBytes = try valueBytes(lengthElement) {
            let offsets = BinaryValues.unsignedIntegers(eotBytes[...], bigEndian: false)
            let lengths = BinaryValues.unsignedIntegers(lengthBytes[...], bigEndian: false)
            if offsets.count == frameCount, lengths.count == frameCount {
                var spans: [FrameSpan] = []
                spans.reserveCapacity(frameCount)
                var valid = true
                for (offset, length) in zip(offsets, lengths) {
                    let (start, o1) = first.addingReportingOverflow(offset)
                    let (span, o2) = length.addingReportingOverflow(8)
                    if o1 || o2 || start > size || span > size - start { valid = false; break }
                    spans.append(FrameSpan(offset: start, length: span))
                }
                if valid { return (spans, "eot") }
            }
        }
        let bot = location.basicOffsetTable
        guard bot.count == frameCount else { return nil }
        var spans: [FrameSpan] = []
        spans.reserveCapacity(frameCount)
        for k in 0..<frameCount {
            let start = first + bot[k]
            let end = k + 1 < frameCount ? first + bot[k + 1] : size
            guard bot[0] == 0, bot[k] < size, start < end, end <= size else { return nil }
            spans.append(FrameSpan(offset: start, length: end - start))
        }
        return (spans, "bot")
    }
}
