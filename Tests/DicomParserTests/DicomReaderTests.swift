import DicomCore
import DicomDeflate
import Testing
@testable import DicomParser

@Suite struct DicomReaderTests {
    static let nativeSyntaxes: [TransferSyntax] = [
        .explicitVRLittleEndian, .implicitVRLittleEndian, .explicitVRBigEndian, .deflatedExplicitVRLittleEndian,
    ]

    /// Values as an application sees them, independent of encoding.
    func comparable(_ ds: DataSet) -> [String] {
        ds.elements.map { e in
            let value: String
            switch e.value {
            case .sequence(let items): value = "items:" + items.map { comparable($0).joined(separator: ";") }.joined(separator: "|")
            default:
                if e.vr.isString { value = (ds.strings(e.tag) ?? []).joined(separator: "\\") }
                else if [.US, .SS, .UL, .SL, .SV, .AT].contains(e.vr) { value = (ds.ints(e.tag) ?? []).map(String.init).joined(separator: ",") }
                else if [.FL, .FD].contains(e.vr) { value = (ds.doubles(e.tag) ?? []).map { String($0) }.joined(separator: ",") }
                else { value = "binary" }
            }
            return "\(e.tag) \(value)"
        }
    }

    @Test(arguments: nativeSyntaxes)
    func roundTripsEveryVR(syntax: TransferSyntax) throws {
        let original = everyVRDataSet()
        let bytes = try DicomWriter(deflate: ZlibDeflateCodec()).part10(dataSet: original, syntax: syntax)
        let file = try read(bytes)
        #expect(file.transferSyntax == syntax)
        #expect(file.preamble?.count == 128)
        #expect(file.fileMeta.string(.transferSyntaxUID) == syntax.uid)
        #expect(file.warnings.isEmpty, "\(file.warnings)")
        var expected = comparable(original)
        var actual = comparable(file.dataSet)
        if !syntax.isExplicitVR {
            // Implicit VR: private and unknown tags come back as UN; compare the public ones.
            expected = expected.filter { !$0.hasPrefix("(0009") }
            actual = actual.filter { !$0.hasPrefix("(0009") }
        }
        #expect(actual == expected)
        #expect(file.dataSet.characterSet.terms == ["ISO_IR 192"])
        let item = try #require(file.dataSet[Tag(0x0008, 0x1140)]?.items?.first)
        #expect(item.string(Tag(0x0008, 0x0104)) == "Größe", "items inherit the character set")
        #expect(file.dataSet.strings(Tag(0x0008, 0x0090)) == ["Müller^Jürgen=ミュラー^ユルゲン"])
        #expect(file.dataSet.strings(Tag(0x0010, 0x4000)) == ["line one\r\nline two \\ with backslash"])
        // Pixel data stays a reference into the source, and loads to the original bytes (LE).
        let pixel = try #require(file.dataSet[.pixelData])
        guard case .bulk(let ref) = pixel.value else { Issue.record("pixel data loaded eagerly"); return }
        var loaded = try file.load(ref)
        if syntax.isBigEndian { loaded = DicomWriter.swapped(loaded, vr: .OW) }
        #expect(loaded == original[.pixelData]?.bytes)
    }

    @Test func readsUVAndSVWithTheirFullRange() throws {
        let file = try read(try DicomWriter().part10(dataSet: everyVRDataSet(), syntax: .explicitVRLittleEndian))
        let uv = try #require(file.dataSet[Tag(0x0072, 0x0083)]?.bytes)
        #expect(BinaryValues.unsignedIntegers(uv[...], bigEndian: false) == [UInt64.max])
        #expect(file.dataSet.int(Tag(0x0072, 0x0082)) == -2)
        #expect(file.dataSet.int(Tag(0x0018, 0x6020)) == -100000)
        #expect(file.dataSet.doubles(Tag(0x0018, 0x9089)) == [1.5, -2.0])
    }

    @Test func readsDefinedLengthSequencesAndItems() throws {
        var item = ByteBuilder()
        item.explicit(Tag(0x0008, 0x1150), .UI, "1.2.3")
        var nested = ByteBuilder()
        nested.explicit(Tag(0x0008, 0x0100), .SH, "CODE")
        var innerItem = ByteBuilder()
        innerItem.item(length: UInt32(nested.bytes.count))
        innerItem.bytes += nested.bytes
        item.explicit(Tag(0x0040, 0xA043), .SQ, innerItem.bytes)
        var sequenceValue = ByteBuilder()
        sequenceValue.item(length: UInt32(item.bytes.count))
        sequenceValue.bytes += item.bytes
        sequenceValue.item(length: 0)
        var ds = ByteBuilder()
        ds.explicit(Tag(0x0008, 0x1140), .SQ, sequenceValue.bytes)
        ds.explicit(Tag(0x0010, 0x0020), .LO, "AFTER")
        let file = try read(part10Header(syntax: "1.2.840.10008.1.2.1") + ds.bytes)
        let items = try #require(file.dataSet[Tag(0x0008, 0x1140)]?.items)
        #expect(items.count == 2)
        #expect(items[0].string(Tag(0x0008, 0x1150)) == "1.2.3")
        #expect(items[0][Tag(0x0040, 0xA043)]?.items?.first?.string(Tag(0x0008, 0x0100)) == "CODE")
        #expect(items[1].isEmpty)
        #expect(file.dataSet.string(Tag(0x0010, 0x0020)) == "AFTER")
        #expect(file.warnings.isEmpty)
    }

    @Test func readsEncapsulatedPixelDataAndOffsetTables() throws {
        var ds = ByteBuilder()
        ds.explicit(Tag(0x0028, 0x0008), .IS, "2")
        ds.explicit(.extendedOffsetTable, .OV, [0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0])
        ds.explicit(.extendedOffsetTableLengths, .OV, [4, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0])
        ds.undefinedLengthHeader(.pixelData, .OB)
        ds.item(length: 8); ds.bytes += le32(0) + le32(12)  // Basic Offset Table: 2 frames
        ds.item(length: 4); ds.bytes += [0xFF, 0xD8, 0xFF, 0xD9]
        ds.item(length: 6); ds.bytes += [0xFF, 0xD8, 1, 2, 0xFF, 0xD9]
        ds.sequenceDelimiter()
        let bytes = part10Header(syntax: "1.2.840.10008.1.2.4.50") + ds.bytes
        let file = try read(bytes)
        let pixel = try #require(file.dataSet[.pixelData])
        guard case .encapsulated(let pixels) = pixel.value else { Issue.record("not encapsulated"); return }
        #expect(pixels.basicOffsetTable.length == 8)
        #expect(pixels.fragments.count == 2)
        #expect(try file.load(pixels.fragments[0]) == [0xFF, 0xD8, 0xFF, 0xD9])
        #expect(try file.load(pixels.fragments[1]) == [0xFF, 0xD8, 1, 2, 0xFF, 0xD9])
        #expect(pixels.endOffset == UInt64(bytes.count))
        #expect(file.dataSet[.extendedOffsetTable]?.vr == .OV)
        #expect(file.dataSet[.extendedOffsetTableLengths]?.bytes?.count == 16)
    }

    @Test func stopsBeforePixelDataOfAHugeSparseFileReadingLittle() throws {
        // A 2 GiB whole-slide-like file: small header, then pixel data that is never read.
        var ds = ByteBuilder()
        ds.explicit(.sopInstanceUID, .UI, "1.2.3")
        ds.explicit(Tag(0x0028, 0x0008), .IS, "100000")
        let header = part10Header(syntax: "1.2.840.10008.1.2.1") + ds.bytes
        let pixelLength: UInt64 = 2 << 30
        let source = CountingByteSource(SparseSource(prefix: header + [0xE0, 0x7F, 0x10, 0x00] + Array("OB".utf8) + [0, 0] + le32(Int(pixelLength)),
                                                     size: UInt64(header.count) + 12 + pixelLength))
        let stopped = try DicomReader(options: ParseOptions(stopBefore: .pixelData)).read(from: source)
        #expect(stopped.dataSet[.pixelData] == nil)
        #expect(stopped.stopOffset == UInt64(header.count))
        #expect(stopped.dataSet.int(Tag(0x0028, 0x0008)) == 100000)
        #expect(source.bytesRead < 1 << 20)
        let whole = try DicomReader().read(from: source)
        guard case .bulk(let ref) = whole.dataSet[.pixelData]?.value else { Issue.record("pixel data not a reference"); return }
        #expect(ref.length == pixelLength)
        #expect(source.bytesRead < 1 << 20, "the full parse skips the pixel data too")
    }

    @Test(arguments: [TransferSyntax.implicitVRLittleEndian, .explicitVRLittleEndian, .explicitVRBigEndian])
    func infersTheEncodingOfRawDataSets(syntax: TransferSyntax) throws {
        var original = everyVRDataSet()
        original.remove(Tag(0x0009, 0x0010)); original.remove(Tag(0x0009, 0x1001))
        let bytes = try DicomWriter().encode(original, syntax: syntax)
        let file = try read(bytes)
        #expect(file.transferSyntaxInferred)
        #expect(file.transferSyntax == syntax)
        #expect(file.preamble == nil && file.fileMeta.isEmpty)
        #expect(comparable(file.dataSet) == comparable(original))
    }

    @Test func rejectsWhatIsNotDicom() {
        for junk: [UInt8] in [Array("hello, world, this is not DICOM at all".utf8), [], [1, 2, 3], [UInt8](repeating: 0xFF, count: 300)] {
            #expect(throws: DicomParserError.self) { try read(junk) }
            do { _ = try read(junk) } catch let e as DicomParserError {
                #expect(e.kind == .notDicom || e.kind == .invalid)
                #expect(e.source == "test.dcm")
            } catch { Issue.record("unexpected \(error)") }
        }
    }

    @Test func readsAnItemOverrunningItsSequenceOnlyWhenLenient() throws {
        var ds = ByteBuilder()
        ds.explicit(Tag(0x0010, 0x0010), .PN, "Doe^John")
        var sq = ByteBuilder()
        sq.item(length: 22)
        sq.explicit(Tag(0x0008, 0x1150), .UI, "1.2")
        ds.explicit(Tag(0x0008, 0x1140), .SQ, sq.bytes)   // the item claims 22 bytes, the sequence has 12 for it
        ds.explicit(Tag(0x0010, 0x0020), .LO, "X")
        let bytes = part10Header(syntax: "1.2.840.10008.1.2.1") + ds.bytes
        let file = try read(bytes)
        #expect(file.warnings.contains { $0.message.contains("past the end of its sequence") && $0.tag == .item })
        do {
            _ = try read(bytes, strict: true)
            Issue.record("strict mode accepted an item longer than its sequence")
        } catch let e as DicomParserError {
            #expect(e.kind == .defect)
            #expect(e.tag == .item)
            #expect(e.offset == UInt64(part10Header(syntax: "1.2.840.10008.1.2.1").count + 16 + 12))
            #expect(e.description.hasPrefix("test.dcm: "))
        }
    }

    @Test func reportsAValueOverrunningItsItemWithOffsetAndTag() throws {
        var item = ByteBuilder()
        item.tag(Tag(0x0008, 0x1150)); item.bytes += Array("UI".utf8); item.u16(40)   // 40 bytes claimed
        item.bytes += padded("1.2", .UI)
        var sq = ByteBuilder()
        sq.item(length: UInt32(item.bytes.count))
        sq.bytes += item.bytes
        var ds = ByteBuilder()
        ds.explicit(Tag(0x0008, 0x1140), .SQ, sq.bytes)
        ds.explicit(Tag(0x0010, 0x0020), .LO, String(repeating: "X", count: 60))
        let header = part10Header(syntax: "1.2.840.10008.1.2.1")
        do {
            _ = try read(header + ds.bytes)
            Issue.record("accepted a value longer than its item")
        } catch let e as DicomParserError {
            #expect(e.kind == .invalid)
            #expect(e.tag == Tag(0x0008, 0x1150))
            #expect(e.offset == UInt64(header.count + 12 + 8))
            #expect(e.description.contains("(0008,1150)"))
        }
    }

    @Test func toleratesDefectsWithWarningsAndStrictRejectsThem() throws {
        var ds = ByteBuilder()
        ds.explicit(Tag(0x0008, 0x0060), .CS, Array("CTX".utf8))            // odd length
        ds.implicit(Tag(0x0010, 0x0020), Array("PID1".utf8))                // implicit inside explicit
        ds.undefinedLengthHeader(Tag(0x0008, 0x1140), .SQ)
        ds.item()
        ds.explicit(Tag(0x0008, 0x1150), .UI, "1.2")                        // no delimiters to EOF
        let bytes = part10Header(syntax: "1.2.840.10008.1.2.1") + ds.bytes + [0, 0, 0]  // trailing padding
        let file = try read(bytes)
        #expect(file.dataSet.string(Tag(0x0008, 0x0060)) == "CTX")
        #expect(file.dataSet.string(Tag(0x0010, 0x0020)) == "PID1")
        #expect(file.dataSet[Tag(0x0010, 0x0020)]?.vr == .LO)
        #expect(file.dataSet[Tag(0x0008, 0x1140)]?.items?.first?.string(Tag(0x0008, 0x1150)) == "1.2")
        let messages = file.warnings.map(\.message).joined(separator: "\n")
        #expect(messages.contains("odd value length 3"))
        #expect(messages.contains("implicit VR element in an explicit VR data set"))
        #expect(messages.contains("no item delimiter"))
        #expect(messages.contains("no sequence delimiter"))
        do {
            _ = try read(bytes, strict: true)
            Issue.record("strict mode accepted defects")
        } catch let e as DicomParserError {
            #expect(e.kind == .defect)
            #expect(e.tag == Tag(0x0008, 0x0060))
        }
    }

    @Test func rereadsUNWithTheDictionaryVR() throws {
        var inner = ByteBuilder()
        inner.item(length: 0xFFFF_FFFF)
        inner.implicit(Tag(0x0008, 0x1150), padded("1.2.3", .UI))
        inner.itemDelimiter()
        inner.sequenceDelimiter()
        var ds = ByteBuilder()
        ds.explicit(Tag(0x0018, 0x0050), .UN, Array("2.5 ".utf8))     // DS sent as UN
        ds.undefinedLengthHeader(Tag(0x0008, 0x1140), .UN)            // SQ sent as UN, undefined length
        ds.bytes += inner.bytes
        let file = try read(part10Header(syntax: "1.2.840.10008.1.2.1") + ds.bytes)
        #expect(file.dataSet[Tag(0x0018, 0x0050)]?.vr == .DS)
        #expect(file.dataSet.double(Tag(0x0018, 0x0050)) == 2.5)
        let sq = try #require(file.dataSet[Tag(0x0008, 0x1140)])
        #expect(sq.vr == .SQ)
        #expect(sq.items?.first?.string(Tag(0x0008, 0x1150)) == "1.2.3")
    }

    @Test func readsExplicitDataSetDeclaredImplicit() throws {
        var ds = ByteBuilder()
        ds.explicit(Tag(0x0010, 0x0010), .PN, "Doe^Jane")
        let file = try read(part10Header(syntax: "1.2.840.10008.1.2") + ds.bytes)
        #expect(file.dataSet.string(Tag(0x0010, 0x0010)) == "Doe^Jane")
        #expect(file.warnings.contains { $0.message.contains("explicit VR") })
    }

    @Test func inflatesAndLimitsDeflatedDataSets() throws {
        let bytes = try DicomWriter(deflate: ZlibDeflateCodec()).part10(dataSet: everyVRDataSet(), syntax: .deflatedExplicitVRLittleEndian)
        var options = ParseOptions(deflate: ZlibDeflateCodec())
        options.maxInflatedSize = 100
        #expect(throws: DicomParserError.self) {
            try DicomReader(options: options).read(from: MemoryByteSource(bytes: bytes))
        }
        #expect(throws: DicomParserError.self) {
            try DicomReader(options: ParseOptions()).read(from: MemoryByteSource(bytes: bytes))  // no codec
        }
        // A corrupt deflate stream is an error, not a crash.
        var corrupt = bytes
        for i in stride(from: corrupt.count - 40, to: corrupt.count, by: 3) { corrupt[i] ^= 0x5A }
        _ = try? read(corrupt)
    }

    @Test func rejectsRunawayNesting() throws {
        var ds = ByteBuilder()
        for _ in 0..<200 {
            ds.undefinedLengthHeader(Tag(0x0008, 0x1140), .SQ)
            ds.item()
        }
        #expect(throws: DicomParserError.self) { try read(part10Header(syntax: "1.2.840.10008.1.2.1") + ds.bytes) }
    }
}

/// A source whose bytes after `prefix` are zeros, without storing them.
struct SparseSource: ByteSource {
    let prefix: [UInt8]
    let size: UInt64
    var name: String { "sparse.dcm" }
    func read(offset: UInt64, length: Int) throws -> [UInt8] {
        guard offset < size else { return [] }
        let count = Int(min(UInt64(length), size - offset))
        return (0..<count).map { i in
            let at = Int(offset) + i
            return at < prefix.count ? prefix[at] : 0
        }
    }
}
