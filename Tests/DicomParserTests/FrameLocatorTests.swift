import DicomCore
import Testing
@testable import DicomParser

@Suite struct FrameLocatorTests {
    /// A JPEG-like codestream: SOI, some bytes, EOI, padded to even length.
    func codestream(_ id: UInt8, length: Int) -> [UInt8] {
        var bytes: [UInt8] = [0xFF, 0xD8] + [UInt8](repeating: id, count: max(0, length - 4)) + [0xFF, 0xD9]
        if bytes.count % 2 == 1 { bytes.append(0) }
        return bytes
    }

    /// An encapsulated file: `frames[k]` is split into the given fragments.
    func encapsulatedFile(frames: [[[UInt8]]], bot: [UInt32]? = nil, eot: (offsets: [UInt64], lengths: [UInt64])? = nil) -> [UInt8] {
        var ds = ByteBuilder()
        ds.explicit(.sopInstanceUID, .UI, "1.2.3")
        ds.explicit(Tag(0x0028, 0x0008), .IS, String(frames.count))
        if let eot {
            ds.explicit(.extendedOffsetTable, .OV, eot.offsets.flatMap { le64($0) })
            ds.explicit(.extendedOffsetTableLengths, .OV, eot.lengths.flatMap { le64($0) })
        }
        ds.undefinedLengthHeader(.pixelData, .OB)
        let table = bot ?? []
        ds.item(length: UInt32(table.count * 4))
        for entry in table { ds.u32(entry) }
        for frame in frames {
            for fragment in frame {
                ds.item(length: UInt32(fragment.count))
                ds.bytes += fragment
            }
        }
        ds.sequenceDelimiter()
        return part10Header(syntax: "1.2.840.10008.1.2.4.50") + ds.bytes
    }

    func frames(of bytes: [UInt8]) throws -> (layout: FrameLayout, frames: [[UInt8]]) {
        let file = try read(bytes, stopBefore: .pixelData)
        let layout = try FrameLocator.layout(of: file)
        let reader = FrameReader(source: file.source, layout: layout)
        return (layout, try (1...layout.frameCount).map { try reader.frame($0) })
    }

    @Test func scansAnEmptyBasicOffsetTableWithOneFragmentPerFrame() throws {
        let expected = [codestream(1, length: 10), codestream(2, length: 31), codestream(3, length: 6)]
        let (layout, got) = try frames(of: encapsulatedFile(frames: expected.map { [$0] }))
        #expect(layout.origin == "scan")
        #expect(got == expected)
    }

    @Test func groupsSeveralFragmentsPerFrameByCodestreamStarts() throws {
        let a = codestream(1, length: 40), b = codestream(2, length: 22)
        let split: [[[UInt8]]] = [[Array(a[0..<10]), Array(a[10..<24]), Array(a[24...])], [Array(b[0..<12]), Array(b[12...])]]
        let (layout, got) = try frames(of: encapsulatedFile(frames: split))
        #expect(layout.origin == "scan")
        #expect(got == [a, b])
        // With a Basic Offset Table the same frames come from the table.
        let bot: [UInt32] = [0, UInt32(8 * 3 + a.count)]
        let (withTable, again) = try frames(of: encapsulatedFile(frames: split, bot: bot))
        #expect(withTable.origin == "bot")
        #expect(again == [a, b])
    }

    @Test func usesTheExtendedOffsetTable() throws {
        let expected = [codestream(7, length: 12), codestream(8, length: 20)]
        let eot = (offsets: [UInt64(0), UInt64(8 + 12)], lengths: [UInt64(12), UInt64(20)])
        let (layout, got) = try frames(of: encapsulatedFile(frames: expected.map { [$0] }, eot: eot))
        #expect(layout.origin == "eot")
        #expect(got == expected)
    }

    @Test func fallsBackToTheScanWhenTheBasicOffsetTableIsWrong() throws {
        let expected = [codestream(1, length: 10), codestream(2, length: 14)]
        for bot: [UInt32] in [[0, 1_000_000], [0, 6], [4, 18]] {
            let (layout, got) = try frames(of: encapsulatedFile(frames: expected.map { [$0] }, bot: bot))
            #expect(layout.origin == "scan", "\(bot)")
            #expect(!layout.warnings.isEmpty)
            #expect(got == expected)
        }
    }

    @Test func rejectsFragmentsThatCannotBeFrames() throws {
        // Three fragments, two frames, only one codestream start: no sound grouping.
        let a = codestream(1, length: 20)
        let file = try read(encapsulatedFile(frames: [[Array(a[0..<10]), Array(a[10...])], [[1, 2, 3, 4]]]), stopBefore: .pixelData)
        #expect(throws: DicomParserError.self) { try FrameLocator.layout(of: file) }
    }

    @Test func repacksOneBitFramesThatStartInsideAByte() throws {
        // Three 3×3 one-bit frames (9 bits each), packed least significant bit first.
        let framesBits: [[UInt8]] = [[1, 0, 1, 1, 0, 0, 1, 1, 1], [0, 1, 1, 0, 1, 0, 0, 0, 1], [1, 1, 1, 1, 1, 1, 1, 1, 0]]
        let all = framesBits.flatMap { $0 }
        var packed = [UInt8](repeating: 0, count: (all.count + 7) / 8)
        for (i, bit) in all.enumerated() where bit == 1 { packed[i / 8] |= 1 << (i % 8) }
        if packed.count % 2 == 1 { packed.append(0) }
        var ds = ByteBuilder()
        ds.explicit(Tag(0x0028, 0x0002), .US, le16(1))
        ds.explicit(Tag(0x0028, 0x0008), .IS, "3")
        ds.explicit(.rows, .US, le16(3))
        ds.explicit(.columns, .US, le16(3))
        ds.explicit(.bitsAllocated, .US, le16(1))
        ds.explicit(.pixelData, .OB, packed)
        let (_, got) = try frames(of: part10Header(syntax: "1.2.840.10008.1.2.1") + ds.bytes)
        for (k, bits) in framesBits.enumerated() {
            var expected: [UInt8] = [0, 0]
            for (i, bit) in bits.enumerated() where bit == 1 { expected[i / 8] |= 1 << (i % 8) }
            #expect(got[k] == expected, "frame \(k + 1)")
        }
    }

    @Test func deliversBigEndianFramesLittleEndianAndOddLengthFramesExactly() throws {
        var big = ByteBuilder()
        big.bigEndian = true
        big.explicit(Tag(0x0028, 0x0008), .IS, "2")
        big.explicit(.rows, .US, [0, 1])
        big.explicit(.columns, .US, [0, 2])
        big.explicit(.bitsAllocated, .US, [0, 16])
        big.explicit(.pixelData, .OW, [0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0])
        let (_, got) = try frames(of: part10Header(syntax: "1.2.840.10008.1.2.2") + big.bytes)
        #expect(got == [[0x34, 0x12, 0x78, 0x56], [0xBC, 0x9A, 0xF0, 0xDE]])

        var odd = ByteBuilder()
        odd.explicit(Tag(0x0028, 0x0008), .IS, "2")
        odd.explicit(.rows, .US, le16(3))
        odd.explicit(.columns, .US, le16(3))
        odd.explicit(.bitsAllocated, .US, le16(8))
        odd.explicit(.pixelData, .OB, Array(1...18) + [0])  // 2 × 9 bytes + padding
        let (_, oddFrames) = try frames(of: part10Header(syntax: "1.2.840.10008.1.2.1") + odd.bytes)
        #expect(oddFrames == [Array(1...9), Array(10...18)])
    }

    @Test func swapsEightBitSamplesStoredInBigEndianWords() throws {
        // Two 3×1 frames of 8-bit samples 1…6 in OW words of a big endian file: stored 2 1 4 3 6 5.
        var big = ByteBuilder()
        big.bigEndian = true
        big.explicit(Tag(0x0028, 0x0008), .IS, "2")
        big.explicit(.rows, .US, [0, 1])
        big.explicit(.columns, .US, [0, 3])
        big.explicit(.bitsAllocated, .US, [0, 8])
        big.explicit(.pixelData, .OW, [2, 1, 4, 3, 6, 5])
        let (_, got) = try frames(of: part10Header(syntax: "1.2.840.10008.1.2.2") + big.bytes)
        #expect(got == [[1, 2, 3], [4, 5, 6]])
    }

    @Test func readsFramesBeyondFourGibibytes() throws {
        // Fragments of 3 GiB, so the second and third frames start past 2^32.
        let big: UInt64 = 3 << 30
        var ds = ByteBuilder()
        ds.explicit(Tag(0x0028, 0x0008), .IS, "3")
        ds.undefinedLengthHeader(.pixelData, .OB)
        ds.item(length: 0)
        let header = part10Header(syntax: "1.2.840.10008.1.2.4.50") + ds.bytes
        var patches: [UInt64: [UInt8]] = [0: header]
        var position = UInt64(header.count)
        var starts: [UInt64] = []
        for k in 0..<3 {
            let length = UInt32(big) + UInt32(k * 2)
            starts.append(position)
            patches[position] = [0xFE, 0xFF, 0x00, 0xE0] + le32(Int(length)) + [0xFF, 0xD8, UInt8(k)]
            patches[position + 8 + UInt64(length) - 2] = [0xFF, 0xD9]
            position += 8 + UInt64(length)
        }
        patches[position] = [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]
        let source = CountingByteSource(PatchedSource(patches: patches, size: position + 8))
        let file = try DicomReader(options: ParseOptions(stopBefore: .pixelData)).read(from: source)
        let layout = try FrameLocator.layout(of: file)
        #expect(layout.origin == "scan")
        #expect(layout.spans?.map(\.offset) == starts)
        #expect(starts[2] > UInt64(UInt32.max))
        #expect(source.bytesRead < 1 << 20, "the scan reads item headers only")
        let reader = FrameReader(source: source, layout: layout)
        #expect(try reader.span(of: 3).offset == starts[2])
    }

    /// `frames(_:)` (one batch read, as a remote source gets it) gives what `frame(_:)` gives,
    /// for encapsulated, big endian, 1-bit and byte-swapped OW frames, in the order asked.
    @Test func batchReadsEqualSingleReads() throws {
        var swapped = ByteBuilder()
        swapped.bigEndian = true
        swapped.explicit(Tag(0x0028, 0x0008), .IS, "3")
        swapped.explicit(.rows, .US, [0, 1])
        swapped.explicit(.columns, .US, [0, 3])
        swapped.explicit(.bitsAllocated, .US, [0, 8])
        swapped.explicit(.pixelData, .OW, [2, 1, 4, 3, 6, 5, 8, 7, 10, 9])
        var bits = ByteBuilder()
        bits.explicit(Tag(0x0028, 0x0008), .IS, "3")
        bits.explicit(.rows, .US, le16(3))
        bits.explicit(.columns, .US, le16(3))
        bits.explicit(.bitsAllocated, .US, le16(1))
        bits.explicit(.pixelData, .OB, [0b1010_1101, 0b0110_0111, 0b1111_0001, 0b0101_1010])
        let a = codestream(1, length: 40), b = codestream(2, length: 22), c = codestream(3, length: 8)
        let files = [
            encapsulatedFile(frames: [[Array(a[0..<10]), Array(a[10...])], [b], [c]]),
            part10Header(syntax: "1.2.840.10008.1.2.2") + swapped.bytes,
            part10Header(syntax: "1.2.840.10008.1.2.1") + bits.bytes,
        ]
        for (k, bytes) in files.enumerated() {
            let file = try read(bytes, stopBefore: .pixelData)
            let source = CountingByteSource(file.source)
            let reader = FrameReader(source: source, layout: try FrameLocator.layout(of: file))
            let order = [3, 1, 2, 1]
            let batch = try reader.frames(order)
            #expect(source.readCount == order.count, "file \(k): one range per frame")
            #expect(batch == (try order.map { try reader.frame($0) }), "file \(k)")
            #expect(throws: DicomParserError.self) { try reader.frames([1, 4]) }
        }
    }

    @Test func frameTablesPackAndUnpack() {
        let spans = [FrameSpan(offset: 0, length: 1), FrameSpan(offset: 5 << 32 | 7, length: UInt64.max), FrameSpan(offset: 1234, length: 0)]
        let packed = FrameSpan.pack(spans)
        #expect(packed.count == 48)
        #expect(FrameSpan.unpack(packed) == spans)
        #expect(FrameSpan.unpack(packed + [1, 2, 3]) == spans, "a partial entry is ignored")
        #expect(FrameSpan.unpack(Array(packed.prefix(20))) == [spans[0]])
        #expect(FrameSpan.unpack([]) == [])
    }

    @Test func namesTheValidRangeForFramesOutOfRange() throws {
        let (layout, _) = try frames(of: encapsulatedFile(frames: [[codestream(1, length: 8)]]))
        let reader = FrameReader(source: MemoryByteSource(bytes: []), layout: layout)
        do {
            _ = try reader.frame(2)
            Issue.record("frame 2 of 1 accepted")
        } catch let error as DicomParserError {
            #expect(error.message.contains("1-1"))
        }
    }
}

func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> UInt64($0 * 8)) } }

/// A large source of zeros with a few patches of real bytes, without storing the zeros.
struct PatchedSource: ByteSource {
    let patches: [UInt64: [UInt8]]
    let size: UInt64
    var name: String { "patched.dcm" }
    func read(offset: UInt64, length: Int) throws -> [UInt8] {
        guard offset < size else { return [] }
        let count = Int(min(UInt64(length), size - offset))
        var out = [UInt8](repeating: 0, count: count)
        for (start, bytes) in patches where start < offset + UInt64(count) && start + UInt64(bytes.count) > offset {
            for (i, byte) in bytes.enumerated() {
                let at = start + UInt64(i)
                if at >= offset, at < offset + UInt64(count) { out[Int(at - offset)] = byte }
            }
        }
        return out
    }
}
