import DicomCore

/// Where every frame of a file's pixel data is, for any encoding: native frames by arithmetic,
/// encapsulated frames from the Extended or Basic Offset Table, or from a scan of the item
/// headers (the data between them is never read).
public struct FrameLayout: Sendable {
    public enum Encoding: Sendable, Equatable {
        /// Frame k starts at bit (k-1)·frameBits of the value; frames of 1-bit data need not
        /// start on a byte boundary.
        case native(frameBits: UInt64, bigEndian: Bool, bitsAllocated: Int)
        /// One span per frame, from its first item tag to the next frame's.
        case encapsulated(spans: [FrameSpan])
    }

    public var location: PixelDataLocation
    public var frameCount: Int
    public var encoding: Encoding
    /// How the table was found, for messages and tests: "native", "eot", "bot", "scan", "index".
    public var origin: String
    public var warnings: [String] = []

    public init(location: PixelDataLocation, frameCount: Int, encoding: Encoding, origin: String) {
        self.location = location
        self.frameCount = frameCount
        self.encoding = encoding
        self.origin = origin
    }

    public var spans: [FrameSpan]? {
        if case .encapsulated(let spans) = encoding { return spans }
        return nil
    }
}

public enum FrameLocator {
    /// Lays out the frames of a parsed file. `cached` is a span table kept from an earlier scan
    /// (the index's), used as it is.
    public static func layout(of file: DicomFile, cached: [FrameSpan]? = nil) throws -> FrameLayout {
        let name = file.source.name
        guard let location = try file.pixelDataLocation() else {
            throw DicomParserError(.invalid, source: name, tag: .pixelData, message: "no pixel data")
        }
        let ds = file.dataSet
        let frames = ds.int(.numberOfFrames).map { max(1, $0) } ?? 1
        guard frames <= 100_000_000 else {
            throw DicomParserError(.invalid, source: name, tag: .numberOfFrames, message: "implausible NumberOfFrames \(frames)")
        }
        if let length = location.length {
            // Native: the frame size comes from the description, exactly.
            let rows = UInt64(max(0, ds.int(.rows) ?? 0)), columns = UInt64(max(0, ds.int(.columns) ?? 0))
            let samples = UInt64(max(1, ds.int(.samplesPerPixel) ?? 1))
            let bits = UInt64(max(0, ds.int(.bitsAllocated) ?? 0))
            guard rows > 0, columns > 0, [1, 8, 16, 32, 64].contains(bits), rows <= 65535, columns <= 65535, samples <= 4 else {
                throw DicomParserError(.invalid, source: name, tag: .rows,
                                       message: "cannot size native frames: Rows \(rows), Columns \(columns), SamplesPerPixel \(samples), BitsAllocated \(bits)")
            }
            // YBR_FULL_422 keeps two chroma samples per two pixels: 2 samples a pixel, not 3.
            let storedSamples = ds.string(Tag(0x0028, 0x0004)) == "YBR_FULL_422" && samples == 3 ? 2 : samples
            let frameBits = rows * columns * storedSamples * bits
            let needed = (frameBits * UInt64(frames) + 7) / 8
            var layout = FrameLayout(location: location, frameCount: frames,
                                     encoding: .native(frameBits: frameBits, bigEndian: file.transferSyntax.isBigEndian, bitsAllocated: Int(bits)),
                                     origin: "native")
            if needed > length {
                // Keep the frames that are there; asking for the others is an error then.
                let available = Int(length * 8 / frameBits)
                layout.warnings.append("pixel data holds \(available) of \(frames) frames (\(length) of \(needed) bytes)")
                layout.frameCount = available
            }
            return layout
        }
        if let cached, cached.count == frames {
            return FrameLayout(location: location, frameCount: frames, encoding: .encapsulated(spans: cached), origin: "index")
        }
        var warnings: [String] = []
        if let (spans, origin) = try file.frameSpansFromOffsetTables(location: location, frameCount: frames) {
            if try spansStartAtItems(spans, source: file.source) {
                return FrameLayout(location: location, frameCount: frames, encoding: .encapsulated(spans: spans), origin: origin)
            }
            warnings.append("the offset table does not point at fragment items; scanning the item headers instead")
        } else if !location.basicOffsetTable.isEmpty {
            warnings.append("the Basic Offset Table has \(location.basicOffsetTable.count) entries for \(frames) frames or points past the end; scanning the item headers instead")
        }
        var layout = try scan(file: file, location: location, frameCount: frames)
        layout.warnings = warnings + layout.warnings
        return layout
    }

    /// Cheap check of a table: the first and last spans must start with an item tag.
    private static func spansStartAtItems(_ spans: [FrameSpan], source: any ByteSource) throws -> Bool {
        for span in [spans.first, spans.last].compactMap({ $0 }) {
            let head = try source.read(offset: span.offset, length: 4)
            if head != [0xFE, 0xFF, 0x00, 0xE0] { return false }
        }
        return true
    }

    /// Walks the fragment item headers (8 bytes each, plus the first bytes of each fragment when
    /// fragments must be grouped by their start markers).
    public static func scan(file: DicomFile, location: PixelDataLocation, frameCount frames: Int) throws -> FrameLayout {
        let source = file.source
        guard var position = location.firstFragmentOffset else {
            throw DicomParserError(.invalid, source: source.name, tag: .pixelData, message: "pixel data is not encapsulated")
        }
        var fragments: [EncapsulatedFragment] = []
        var end = source.size
        while position + 8 <= source.size {
            let header = try source.read(offset: position, length: 12)
            guard header.count >= 8 else { break }
            let tag = Tag(UInt16(header[0]) | UInt16(header[1]) << 8, UInt16(header[2]) | UInt16(header[3]) << 8)
            let length = UInt64(header[4]) | UInt64(header[5]) << 8 | UInt64(header[6]) << 16 | UInt64(header[7]) << 24
            if tag == .sequenceDelimitation { end = position; break }
            guard tag == .item, length != 0xFFFF_FFFF, length <= source.size - position - 8 else {
                throw DicomParserError(.invalid, source: source.name, offset: position, tag: .pixelData,
                                       message: tag == .item ? "fragment length \(length) reaches past the end of the file" : "expected a fragment item, found \(tag)")
            }
            fragments.append(EncapsulatedFragment(itemOffset: position, head: Array(header.dropFirst(8).prefix(Int(min(4, length))))))
            position += 8 + length
            end = position
        }
        return try group(fragments, end: end, location: location, frameCount: frames, source: source.name)
    }

    /// Groups fragments into frames: one fragment per frame when the counts agree, else a frame
    /// starts at each fragment that starts a codestream. Each span runs from its first item tag
    /// to the next frame's (the last to `end`: the sequence delimiter, or the end of the file).
    static func group(_ fragments: [EncapsulatedFragment], end: UInt64, location: PixelDataLocation,
                      frameCount frames: Int, source name: String) throws -> FrameLayout {
        guard !fragments.isEmpty else {
            throw DicomParserError(.invalid, source: name, tag: .pixelData, message: "encapsulated pixel data has no fragments")
        }
        // Which fragments start a frame.
        var starts: [Int]
        if fragments.count == frames {
            starts = Array(0..<frames)
        } else if frames == 1 {
            starts = [0]
        } else {
            starts = fragments.indices.filter { isCodestreamStart(fragments[$0].head) }
            guard starts.count == frames, starts.first == 0 else {
                throw DicomParserError(.invalid, source: name, tag: .pixelData,
                                       message: "cannot tell \(fragments.count) fragments apart into \(frames) frames (found \(starts.count) codestream starts)")
            }
        }
        var spans: [FrameSpan] = []
        spans.reserveCapacity(frames)
        for (i, start) in starts.enumerated() {
            let from = fragments[start].itemOffset
            let to = i + 1 < starts.count ? fragments[starts[i + 1]].itemOffset : end
            spans.append(FrameSpan(offset: from, length: to - from))
        }
        return FrameLayout(location: location, frameCount: frames, encoding: .encapsulated(spans: spans), origin: "scan")
    }

    /// JPEG SOI (also JPEG-LS and JPEG lossless), JPEG 2000 codestream SOC+SIZ, JP2 signature box.
    static func isCodestreamStart(_ head: [UInt8]) -> Bool {
        if head.count >= 2, head[0] == 0xFF, head[1] == 0xD8 { return true }
        if head.count >= 4, head[0] == 0xFF, head[1] == 0x4F, head[2] == 0xFF, head[3] == 0x51 { return true }
        if head.count >= 4, head == [0x00, 0x00, 0x00, 0x0C] { return true }
        return false
    }
}

/// One fragment item as the scans see it: where its tag is, and its first bytes (up to 4, enough
/// to recognise a codestream start).
struct EncapsulatedFragment: Sendable {
    var itemOffset: UInt64
    var head: [UInt8]
}

/// Reads frames with one read each, given a layout.
public struct FrameReader: Sendable {
    public let source: any ByteSource
    public let layout: FrameLayout

    public init(source: any ByteSource, layout: FrameLayout) {
        self.source = source
        self.layout = layout
    }

    /// Where frame `number` (1-based) lies: its span for encapsulated data, its bytes for native
    /// data (the covering bytes of 1-bit frames).
    public func span(of number: Int) throws -> FrameSpan {
        guard number >= 1, number <= layout.frameCount else {
            throw DicomParserError(.invalid, source: source.name, tag: .numberOfFrames,
                                   message: "frame \(number) is out of range 1-\(layout.frameCount)")
        }
        switch layout.encoding {
        case .encapsulated(let spans):
            return spans[number - 1]
        case .native(let frameBits, _, _):
            let firstBit = UInt64(number - 1) * frameBits
            let start = layout.location.valueOffset + firstBit / 8
            let endBit = firstBit + frameBits
            return FrameSpan(offset: start, length: (endBit + 7) / 8 - firstBit / 8)
        }
    }

    /// The frame's bytes as a WADO-RS frame: the codestream of encapsulated data (fragments
    /// joined), or little endian native data (1-bit frames repacked to start at bit 0).
    public func frame(_ number: Int) throws -> [UInt8] {
        let range = try readRange(of: number)
        return try assemble(try source.read(offset: range.offset, length: range.length), frame: number, range: range)
    }

    /// Several frames with one batch read of the source (`ByteSource.read(ranges:)`: a remote
    /// source merges near frames into one request and fetches in parallel; a file reads each).
    /// Every number is checked before anything is read.
    public func frames(_ numbers: [Int]) throws -> [[UInt8]] {
        let ranges = try numbers.map { try readRange(of: $0) }
        let bytes = try source.read(ranges: ranges.map { ($0.offset, $0.length) })
        guard bytes.count == ranges.count else {
            throw DicomParserError(.cannotRead, source: source.name, message: "the source answered \(bytes.count) of \(ranges.count) reads")
        }
        return try numbers.indices.map { try assemble(bytes[$0], frame: numbers[$0], range: ranges[$0]) }
    }

    /// The bytes to read for a frame: its span, or for 8-bit samples in big endian OW words the
    /// word-aligned bytes around it.
    private func readRange(of number: Int) throws -> (offset: UInt64, length: Int) {
        let span = try span(of: number)
        guard span.length <= UInt64(Int32.max) else {
            throw DicomParserError(.unsupported, source: source.name, offset: span.offset, message: "frame larger than 2 GiB")
        }
        if case .native(_, true, 8) = layout.encoding, layout.location.vr == .OW {
            let value = layout.location.valueOffset
            let start = span.offset - value, end = start + span.length
            let alignedStart = start & ~1, alignedEnd = min((end + 1) & ~1, layout.location.length ?? end)
            return (value + alignedStart, Int(alignedEnd - alignedStart))
        }
        return (span.offset, Int(span.length))
    }

    /// A frame out of the bytes read for it.
    private func assemble(_ bytes: [UInt8], frame number: Int, range: (offset: UInt64, length: Int)) throws -> [UInt8] {
        guard bytes.count == range.length else {
            throw DicomParserError(.invalid, source: source.name, offset: range.offset, message: "file ends inside frame \(number)")
        }
        if case .native(_, true, 8) = layout.encoding, layout.location.vr == .OW {
            return wordSwapped(bytes, frame: number, readFrom: range.offset)
        }
        switch layout.encoding {
        case .encapsulated:
            return try joinFragments(bytes, at: range.offset, frame: number)
        case .native(let frameBits, let bigEndian, let bitsAllocated):
            if bitsAllocated == 1 {
                let shift = Int((UInt64(number - 1) * frameBits) % 8)
                return repack(bytes, shift: shift, bits: Int(frameBits))
            }
            return bigEndian ? byteSwapped(bytes, width: bitsAllocated / 8) : bytes
        }
    }

    /// 8-bit samples in 16-bit OW words of a big endian file are stored byte-swapped per word
    /// (as pydicom reads them): the word-aligned bytes around the frame are swapped, then cut.
    private func wordSwapped(_ bytes: [UInt8], frame number: Int, readFrom alignedOffset: UInt64) -> [UInt8] {
        let span = (try? self.span(of: number)) ?? FrameSpan(offset: alignedOffset, length: 0)
        let start = Int(span.offset - alignedOffset), end = start + Int(span.length)
        var swapped = byteSwapped(bytes, width: 2)
        if swapped.count < end { swapped.append(contentsOf: [UInt8](repeating: 0, count: end - swapped.count)) }
        return Array(swapped[start..<end])
    }

    private func joinFragments(_ bytes: [UInt8], at offset: UInt64, frame: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        var i = 0
        while i + 8 <= bytes.count {
            let isItem = bytes[i] == 0xFE && bytes[i + 1] == 0xFF && bytes[i + 2] == 0x00 && bytes[i + 3] == 0xE0
            let isDelimiter = bytes[i] == 0xFE && bytes[i + 1] == 0xFF && bytes[i + 2] == 0xDD && bytes[i + 3] == 0xE0
            if isDelimiter { break }
            guard isItem else {
                throw DicomParserError(.invalid, source: source.name, offset: offset + UInt64(i), tag: .pixelData,
                                       message: "frame \(frame): expected a fragment item")
            }
            let length = Int(bytes[i + 4]) | Int(bytes[i + 5]) << 8 | Int(bytes[i + 6]) << 16 | Int(bytes[i + 7]) << 24
            guard length <= bytes.count - i - 8 else {
                throw DicomParserError(.invalid, source: source.name, offset: offset + UInt64(i), tag: .pixelData,
                                       message: "frame \(frame): fragment length \(length) reaches past the frame")
            }
            if result.isEmpty, i + 8 + length == bytes.count {
                return Array(bytes[(i + 8)..<(i + 8 + length)])  // one fragment: no copy loop
            }
            result.append(contentsOf: bytes[(i + 8)..<(i + 8 + length)])
            i += 8 + length
        }
        return result
    }

    /// Shifts a 1-bit frame that starts `shift` bits into its first byte so it starts at bit 0
    /// (DICOM packs bits least significant first).
    private func repack(_ bytes: [UInt8], shift: Int, bits: Int) -> [UInt8] {
        let count = (bits + 7) / 8
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            let low = UInt16(bytes[i]) >> UInt16(shift)
            let high = i + 1 < bytes.count ? UInt16(bytes[i + 1]) << UInt16(8 - shift) : 0
            out[i] = UInt8(truncatingIfNeeded: shift == 0 ? UInt16(bytes[i]) : low | high)
        }
        let spare = count * 8 - bits
        if spare > 0 { out[count - 1] &= UInt8(0xFF >> spare) }
        return out
    }
}
