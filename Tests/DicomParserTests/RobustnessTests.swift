import DicomCore
import DicomDeflate
import Testing
@testable import DicomParser
import DicomTestSupport

/// Truncated and corrupted inputs never trap, hang or run away with memory: each gives a data
/// set or a DicomParserError.
@Suite struct RobustnessTests {
    static func fixtures() throws -> [[UInt8]] {
        let writer = DicomWriter(deflate: ZlibDeflateCodec())
        var result: [[UInt8]] = []
        for syntax in DicomReaderTests.nativeSyntaxes {
            result.append(try writer.part10(dataSet: everyVRDataSet(), syntax: syntax))
        }
        var encapsulated = ByteBuilder()
        encapsulated.explicit(.sopInstanceUID, .UI, "1.2.3")
        encapsulated.undefinedLengthHeader(Tag(0x0008, 0x1140), .SQ)
        encapsulated.item(length: 0xFFFF_FFFF)
        encapsulated.explicit(Tag(0x0008, 0x1150), .UI, "1.2")
        encapsulated.itemDelimiter()
        encapsulated.sequenceDelimiter()
        encapsulated.undefinedLengthHeader(.pixelData, .OB)
        encapsulated.item(length: 4); encapsulated.bytes += le32(0)
        for i in 0..<5 { encapsulated.item(length: 6); encapsulated.bytes += [0xFF, 0xD8, UInt8(i), 0, 0xFF, 0xD9] }
        encapsulated.sequenceDelimiter()
        result.append(part10Header(syntax: "1.2.840.10008.1.2.4.50") + encapsulated.bytes)
        return result
    }

    /// Parses without trapping; an error must carry the source name.
    func survive(_ bytes: [UInt8], strict: Bool = false) {
        do {
            _ = try read(bytes, strict: strict)
        } catch let e as DicomParserError {
            #expect(e.source == "test.dcm")
        } catch {
            Issue.record("unexpected error type: \(error)")
        }
    }

    @Test func survivesEveryTruncation() throws {
        var variants = 0
        for fixture in try Self.fixtures() {
            for length in 0..<fixture.count {
                survive(Array(fixture[0..<length]))
                variants += 1
            }
        }
        #expect(variants > 2000)
    }

    @Test func survivesSeededRandomCorruption() throws {
        var rng = SplitMix64(seed: 20261126)
        var variants = 0
        for fixture in try Self.fixtures() {
            for _ in 0..<2000 {
                var bytes = fixture
                let flips = 1 + Int(rng.next() % 8)
                for _ in 0..<flips {
                    // Favour the header bytes (tags, VRs, lengths) where the parser decides things.
                    let position = 128 + Int(rng.next() % UInt64(bytes.count - 128))
                    bytes[position] = UInt8(truncatingIfNeeded: rng.next())
                }
                survive(bytes, strict: variants % 2 == 0)
                variants += 1
            }
        }
        #expect(variants >= 10_000)
    }

    @Test func survivesHostileLengths() throws {
        // Lengths of 0xFFFFFFF0 and friends on values, items and fragments.
        for length: UInt32 in [0xFFFF_FFF0, 0x7FFF_FFFF, 0xFFFF_FFFE, 0x8000_0000] {
            var a = ByteBuilder()
            a.tag(Tag(0x0010, 0x0010)); a.bytes += Array("UT".utf8) + [0, 0]; a.u32(length)
            survive(part10Header(syntax: "1.2.840.10008.1.2.1") + a.bytes)
            var b = ByteBuilder()
            b.undefinedLengthHeader(Tag(0x0008, 0x1140), .SQ)
            b.item(length: length)
            survive(part10Header(syntax: "1.2.840.10008.1.2.1") + b.bytes)
            var c = ByteBuilder()
            c.undefinedLengthHeader(.pixelData, .OB)
            c.item(length: 0); c.item(length: length)
            survive(part10Header(syntax: "1.2.840.10008.1.2.4.50") + c.bytes)
            var d = ByteBuilder()
            d.implicit(Tag(0x0008, 0x0016), [])
            d.tag(Tag(0x0010, 0x0010)); d.u32(length)
            survive(d.bytes)
        }
    }
}

