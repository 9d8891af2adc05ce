#if canImport(Glibc)
import Glibc
#endif
import DicomCore
import DicomDeflate
import Testing
@testable import DicomParser

/// The reader decodes element headers in place when its window holds them and field by field
/// when a header straddles the window's end or the source's end: both give the same elements,
/// warnings and errors.
@Suite struct ReadWindowTests {
    /// Everything the parse produced, as text: elements (recursively), offsets, warnings, error.
    func outcome(_ bytes: [UInt8], chunkSize: Int, strict: Bool = false) -> String {
        var options = ParseOptions(strict: strict, deflate: ZlibDeflateCodec())
        options.bulkThreshold = 256
        let reader = SourceReader(source: MemoryByteSource(name: "test.dcm", bytes: bytes), chunkSize: chunkSize)
        var parser = ElementParser(reader: reader, options: options)
        do {
            let file = try parser.readFile()
            return describe(file.fileMeta) + "|" + describe(file.dataSet) + "|\(file.dataSetOffset) \(file.transferSyntax.uid) \(String(describing: file.stopOffset))|"
                + file.warnings.map(\.description).joined(separator: ";")
        } catch {
            return "error: \(error)"
        }
    }

    func describe(_ dataSet: DataSet) -> String {
        dataSet.elements.map { e in
            let value: String
            switch e.value {
            case .bytes(let b): value = b.map(String.init).joined(separator: ",")
            case .bulk(let ref): value = "bulk \(ref.offset)+\(ref.length)"
            case .sequence(let items): value = "[" + items.map(describe).joined(separator: "][") + "]"
            case .encapsulated(let pixels): value = "frags \(pixels.basicOffsetTable) \(pixels.fragments) \(pixels.endOffset)"
            }
            return "\(e.tag) \(e.vr) @\(e.valueOffset) \(e.hadUndefinedLength) \(value)"
        }.joined(separator: "\n") + " cs=\(dataSet.characterSet.terms) be=\(dataSet.isBigEndian)"
    }

    static let chunkSizes = [1, 2, 5, 8, 11, 12, 13, 100]

    @Test func everyWindowSizeReadsTheSame() throws {
        var fixtures = try RobustnessTests.fixtures()
        fixtures.append(Self.mixedFile())
        for fixture in fixtures {
            let expected = outcome(fixture, chunkSize: 64 * 1024)
            #expect(!expected.hasPrefix("error"), "\(expected)")
            for chunk in Self.chunkSizes {
                #expect(outcome(fixture, chunkSize: chunk) == expected, "chunk \(chunk)")
            }
        }
    }

    @Test func everyTruncationFailsTheSameWayWhateverTheWindow() throws {
        var compared = 0
        var errors = Set<String>()
        for fixture in try RobustnessTests.fixtures().prefix(3) + [Self.mixedFile()] {
            for length in stride(from: 128, to: fixture.count, by: 1) {
                let bytes = Array(fixture[0..<length])
                let expected = outcome(bytes, chunkSize: 64 * 1024, strict: length % 2 == 0)
                if expected.hasPrefix("error") { errors.insert(String(expected.prefix(60))) }
                for chunk in [1, 7, 12] {
                    #expect(outcome(bytes, chunkSize: chunk, strict: length % 2 == 0) == expected, "length \(length) chunk \(chunk)")
                    compared += 1
                }
            }
        }
        #expect(compared > 3000)
        #expect(errors.count > 3)  // truncations fail in several ways, and are compared as such
    }

    /// Implicit VR elements in an explicit data set, private tags, group lengths, an odd length,
    /// an element out of order and a header cut by the end of the file.
    static func mixedFile() -> [UInt8] {
        var b = ByteBuilder()
        b.explicit(Tag(0x0008, 0x0000), .UL, le32(0))
        b.explicit(.specificCharacterSet, .CS, "ISO_IR 100")
        b.explicit(.sopInstanceUID, .UI, "1.2.3.4")
        b.implicit(Tag(0x0009, 0x0010), padded("CREATOR", .LO))   // implicit in explicit
        b.implicit(Tag(0x0009, 0x1001), [1, 2, 3, 4])
        b.explicit(Tag(0x0010, 0x0010), .PN, Array("Doe^Jane".utf8) + [0x41])  // odd length
        b.explicit(Tag(0x0008, 0x0060), .CS, "CT")  // out of order
        b.implicit(Tag(0x0028, 0x0106), le16(7))  // US or SS, implicit
        b.explicit(Tag(0x0028, 0x0103), .US, le16(1))
        b.explicit(Tag(0x0029, 0x1002), .UN, [9, 9])
        b.explicit(Tag(0x0040, 0xA160), .UT, String(repeating: "text ", count: 20))
        return part10Header(syntax: "1.2.840.10008.1.2.1") + b.bytes
    }

    @Test func mixedFileIsReadAsBefore() throws {
        let file = try read(Self.mixedFile())
        let ds = file.dataSet
        #expect(ds.elements.map(\.tag) == ds.elements.map(\.tag).sorted())
        #expect(ds.count == 11)
        #expect(ds[Tag(0x0009, 0x0010)]?.vr == .LO)
        #expect(ds[Tag(0x0009, 0x1001)]?.vr == .UN)
        #expect(ds[Tag(0x0028, 0x0106)]?.vr == .SS)  // Pixel Representation 1
        #expect(ds.string(Tag(0x0008, 0x0060)) == "CT")
        #expect(file.warnings.map(\.message) == [
            "implicit VR element in an explicit VR data set",
            "odd value length 9",
        ])
        #expect(throws: DicomParserError.self) { try read(Self.mixedFile(), strict: true) }
    }

    @Test func headerCutByTheEndReportsTheField() throws {
        // A long-length header (12 bytes) with 10 bytes left: the 32-bit length is missing.
        var b = ByteBuilder()
        b.explicit(.sopInstanceUID, .UI, "1.2.3.4")
        b.tag(Tag(0x0040, 0xA160)); b.bytes += Array("UT".utf8) + [0, 0, 5, 0]
        let bytes = part10Header(syntax: "1.2.840.10008.1.2.1") + b.bytes
        for chunk in [3, 64 * 1024] {
            let text = outcome(bytes, chunkSize: chunk)
            #expect(text.contains("truncated: 4-byte number"), "\(text)")
        }
        // A value longer than what is left of its item is an error; of the file, a warning.
        var item = ByteBuilder()
        item.undefinedLengthHeader(Tag(0x0008, 0x1140), .SQ)
        item.item(length: 16)
        item.explicit(Tag(0x0008, 0x1150), .UI, Array("1.2".utf8) + [0])
        item.bytes[item.bytes.count - 6] = 40  // length 40 in an item of 16
        item.sequenceDelimiter()
        #expect(outcome(part10Header(syntax: "1.2.840.10008.1.2.1") + item.bytes, chunkSize: 64 * 1024)
            .contains("value length 40 reaches past the end of its item"))
        var tail = ByteBuilder()
        tail.explicit(Tag(0x0010, 0x0010), .PN, Array("Doe^Jane".utf8))
        tail.bytes[tail.bytes.count - 10] = 200  // length 200 with 8 bytes left
        let file = try read(part10Header(syntax: "1.2.840.10008.1.2.1") + tail.bytes)
        #expect(file.dataSet.string(Tag(0x0010, 0x0010)) == "Doe^Jane")
        #expect(file.warnings.map(\.message) == ["value length 200 reaches past the end of the file (8 bytes left); truncated"])
    }

    @Test func fileSourceFillsTheWindowInPlace() throws {
        let bytes = Self.mixedFile()
        let path = "/tmp/dwc-read-window-\(getpid()).dcm"
        let handle = fopen(path, "wb")
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, bytes.count, handle) }
        fclose(handle)
        defer { unlink(path) }
        let counting = CountingByteSource(try FileByteSource(path: path))
        let file = try DicomReader().read(from: counting)
        #expect(file.dataSet.count == 11)
        #expect(counting.readCount == 1)  // the whole header in one read
        #expect(counting.bytesRead == UInt64(bytes.count))
        var buffer = [UInt8](repeating: 0xEE, count: 16)
        let n = try buffer.withUnsafeMutableBytes { try FileByteSource(path: path).read(offset: UInt64(bytes.count - 5), into: $0) }
        #expect(n == 5)
        #expect(Array(buffer[0..<5]) == Array(bytes.suffix(5)))
        #expect(buffer[5] == 0xEE)
    }
}
